//! `devsim broker`: an embedded Kafka for local development and tests, no Java, no container.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use tokio::io::AsyncWriteExt;

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::kafka::{EmbeddedKafka, Fault, REFUSALS, Relay, TransientError};
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
    /// Serve clients on this 127.0.0.1 port (shorthand for `--listen 127.0.0.1:PORT`).
    #[arg(long, conflicts_with = "listen")]
    pub port: Option<u16>,
    /// Serve clients on this address, `IP` or `IP:PORT`, for example one that pods or other
    /// machines reach: the first broker on PORT (any free port if omitted), the others on free
    /// ports of the same IP, and the metadata names those addresses. Without it the mock
    /// brokers serve 127.0.0.1 only, on ports chosen at run time.
    #[arg(long, value_parser = parse_listen)]
    pub listen: Option<SocketAddr>,
    /// Host name or IP that clients dial to reach `--listen` (default: its IP; required when
    /// that is 0.0.0.0 or ::).
    #[arg(long, requires = "listen")]
    pub advertise: Option<String>,
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
    let listen = args.listen.or_else(|| {
        args.port
            .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
    });
    if let Some(listen) = listen {
        let flag = if args.listen.is_some() {
            "--listen"
        } else {
            "--port"
        };
        let advertise = match (&args.advertise, listen.ip().is_unspecified()) {
            (Some(host), _) => host.clone(),
            (None, false) => listen.ip().to_string(),
            (None, true) => {
                eprintln!(
                    "error: --listen {listen}: an unspecified address needs --advertise HOST, the name or IP that clients dial"
                );
                return EXIT_INVALID;
            }
        };
        let upstream: Vec<SocketAddr> = bootstrap
            .split(',')
            .filter_map(|a| a.parse().ok())
            .collect();
        match Relay::start(listen, &advertise, &upstream).await {
            Ok(relay) => bootstrap = relay.advertised.join(","),
            Err(e) => {
                eprintln!("error: {flag} {listen}: {e}");
                return EXIT_INVALID;
            }
        }
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
    println!("{ORDERS}");
    let cluster = std::sync::Arc::new(cluster);
    let orders = std::sync::Arc::clone(&cluster);
    std::thread::spawn(move || follow_orders(orders));
    shutdown.requested().await;
    println!("stopping the embedded Kafka");
    drop(cluster);
    EXIT_OK
}

/// The orders `devsim broker` takes on standard input.
const ORDERS: &str = "orders (type one and Enter): `down` takes the brokers down (an outage; data kept), `up` brings them back; \
`refuse` makes them refuse every produce request (MESSAGE_TOO_LARGE), `accept` ends that; \
`slow MS` delays every response by MS milliseconds (`slow 0`: no delay); \
`errors KIND N` answers the next N produce requests with a transient error, KIND one of \
`not_leader`, `not_enough_replicas`, `disconnect` (N from 1 to 100000); \
`leaders` moves every partition's leader to another broker";

/// One order line: the fault it asks for, or what is wrong with it.
fn parse_order(line: &str) -> Result<Option<Fault>, String> {
    let mut words = line.split_whitespace();
    let fault = match (words.next(), words.next(), words.next()) {
        (None, ..) => return Ok(None),
        (Some("down"), None, _) => Fault::BrokersDown,
        (Some("up"), None, _) => Fault::BrokersUp,
        (Some("refuse"), None, _) => Fault::RefuseProduce,
        (Some("accept"), None, _) => Fault::AcceptProduce,
        (Some("slow"), Some(ms), None) => match ms.parse::<u64>() {
            Ok(ms) if ms <= 60_000 => Fault::RoundTrip(std::time::Duration::from_millis(ms)),
            _ => return Err(format!("slow {ms}: give milliseconds from 0 to 60000")),
        },
        (Some("leaders"), None, _) => Fault::MoveLeaders,
        (Some("errors"), Some(kind), Some(count)) if words.next().is_none() => {
            let error = match kind {
                "not_leader" => TransientError::NotLeader,
                "not_enough_replicas" => TransientError::NotEnoughReplicas,
                "disconnect" => TransientError::Disconnect,
                _ => {
                    return Err(format!(
                        "errors {kind}: KIND is not_leader, not_enough_replicas or disconnect"
                    ));
                }
            };
            match count.parse::<u32>() {
                Ok(n) if (1..=REFUSALS as u32).contains(&n) => Fault::ProduceErrors(error, n),
                _ => return Err(format!("errors {kind} {count}: N is from 1 to {REFUSALS}")),
            }
        }
        _ => return Err(format!("unknown order {:?}; {ORDERS}", line.trim())),
    };
    Ok(Some(fault))
}

/// Reads order lines from standard input until it closes and applies them; a wrong one gets
/// a one-line hint. A plain thread: a read pending on the runtime's blocking pool would hold
/// the process open at exit.
fn follow_orders(cluster: std::sync::Arc<EmbeddedKafka>) {
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { return };
        match parse_order(&line) {
            Ok(None) => {}
            Ok(Some(fault)) => match cluster.inject(fault) {
                Ok(()) => println!("done: {fault:?}"),
                Err(e) => eprintln!("error: {e}"),
            },
            Err(hint) => println!("{hint}"),
        }
    }
}

/// `IP` or `IP:PORT` (IPv6 in brackets when a port follows).
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
        .map_err(|_| format!("{text:?} is not IP or IP:PORT (for example 10.0.0.5:9092)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_read_strictly_with_a_hint_for_anything_else() {
        assert_eq!(parse_order("down"), Ok(Some(Fault::BrokersDown)));
        assert_eq!(parse_order(" up \n"), Ok(Some(Fault::BrokersUp)));
        assert_eq!(parse_order("refuse"), Ok(Some(Fault::RefuseProduce)));
        assert_eq!(parse_order("accept"), Ok(Some(Fault::AcceptProduce)));
        assert_eq!(
            parse_order("slow 250"),
            Ok(Some(Fault::RoundTrip(std::time::Duration::from_millis(
                250
            ))))
        );
        assert_eq!(parse_order("  "), Ok(None));
        let hint = parse_order("slow fast").expect_err("not a number");
        assert!(hint.contains("milliseconds from 0 to 60000"), "{hint}");
        assert!(parse_order("slow 60001").is_err());
        let hint = parse_order("downn").expect_err("unknown");
        assert!(
            hint.contains("\"downn\"") && hint.contains("`refuse`"),
            "{hint}"
        );
        assert!(parse_order("down now").is_err());
        assert_eq!(parse_order("leaders"), Ok(Some(Fault::MoveLeaders)));
        assert_eq!(
            parse_order("errors not_leader 50"),
            Ok(Some(Fault::ProduceErrors(TransientError::NotLeader, 50)))
        );
        assert_eq!(
            parse_order("errors disconnect 1"),
            Ok(Some(Fault::ProduceErrors(TransientError::Disconnect, 1)))
        );
        let hint = parse_order("errors timeout 5").expect_err("unknown kind");
        assert!(
            hint.contains("not_leader, not_enough_replicas or disconnect"),
            "{hint}"
        );
        assert!(parse_order("errors not_leader 0").is_err());
        assert!(parse_order("errors not_leader 5 more").is_err());
    }
}
