//! `devsim broker`: an embedded Kafka for local development and tests, no Java, no container.

use std::path::PathBuf;

use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::kafka::EmbeddedKafka;
use crate::shutdown::Shutdown;

/// Flags of `devsim broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Topic to create.
    #[arg(long, default_value = "iot-sensor-data")]
    pub topic: String,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub partitions: u32,
    /// Number of mock brokers.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub brokers: u32,
    /// Also accept bootstrap connections on this 127.0.0.1 port (the mock brokers themselves
    /// listen on ports chosen at run time, which clients learn from the metadata).
    #[arg(long)]
    pub port: Option<u16>,
    /// Write the bootstrap address to this file once the cluster is up (for scripts and tests).
    #[arg(long)]
    pub address_file: Option<PathBuf>,
}

pub(super) async fn run(args: BrokerArgs, shutdown: Shutdown) -> u8 {
    let cluster = match EmbeddedKafka::start(args.brokers, &args.topic, args.partitions) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    let mut bootstrap = cluster.bootstrap_servers().to_owned();
    if let Some(port) = args.port {
        let listener = match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: --port {port}: {e}");
                return EXIT_INVALID;
            }
        };
        let target = bootstrap.split(',').next().unwrap_or_default().to_owned();
        bootstrap = format!("127.0.0.1:{port}");
        tokio::spawn(forward_bootstrap(listener, target));
    }
    if let Some(path) = &args.address_file {
        // Written whole then renamed, so a reader never sees half an address.
        let tmp = path.with_extension("tmp");
        let written = async {
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(bootstrap.as_bytes()).await?;
            f.sync_all().await?;
            tokio::fs::rename(&tmp, path).await
        };
        if let Err(e) = written.await {
            eprintln!("error: --address-file {}: {e}", path.display());
            return EXIT_FAILED;
        }
    }
    println!(
        "embedded Kafka: {} broker(s), topic {} with {} partitions",
        args.brokers, args.topic, args.partitions
    );
    println!("bootstrap servers: {bootstrap}");
    println!(
        "type `down` to take the brokers down (an outage; data kept) and `up` to bring them back"
    );
    let cluster = std::sync::Arc::new(cluster);
    let orders = std::sync::Arc::clone(&cluster);
    std::thread::spawn(move || follow_orders(orders));
    shutdown.requested().await;
    println!("stopping the embedded Kafka");
    drop(cluster);
    EXIT_OK
}

/// Reads `down` and `up` lines from standard input until it closes, taking the brokers down or
/// up; anything else gets a one-line hint. A plain thread: a read pending on the runtime's
/// blocking pool would hold the process open at exit.
fn follow_orders(cluster: std::sync::Arc<EmbeddedKafka>) {
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { return };
        let up = match line.trim() {
            "down" => false,
            "up" => true,
            "" => continue,
            other => {
                println!("unknown order {other:?}: type `down` or `up`");
                continue;
            }
        };
        match cluster.set_brokers_up(up) {
            Ok(()) => println!("brokers {}", if up { "up" } else { "down" }),
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

/// Forwards connections on a fixed port to the first mock broker, for clients configured with a
/// well-known bootstrap address.
async fn forward_bootstrap(listener: TcpListener, target: String) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
