//! `devsim bench`: the rate one replica of a simulation sustains against given brokers (or an
//! embedded Kafka in a process of its own), the raw ceiling beside it, and the replicas the
//! simulation's schedule needs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;

use super::setup::{check_reachable, embedded_can_serve, fail, read_simulation};
use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::bench::report::{self, PLANNED_LOAD};
use crate::bench::{BenchConfig, Mode, PhaseResult, run_bench};
use crate::kafka::{KafkaSink, resolve_credentials};
use crate::shutdown::Shutdown;

/// Mock brokers of the embedded Kafka, as `devsim run` starts them.
const EMBEDDED_BROKERS: &str = "3";
/// How long the embedded Kafka's process gets to come up.
const BROKER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags of `devsim bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Simulation file: its encoding, profiles, producer settings and topic are used.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Brokers to measure, overriding spec.kafka.bootstrapServers. Without either, an embedded
    /// Kafka runs in a process of its own on this machine. Messages go to the simulation's
    /// topic unless --topic says otherwise.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Topic to produce to instead of spec.kafka.topic (it must exist, or the brokers must
    /// create topics on first use).
    #[arg(long)]
    pub topic: Option<String>,
    /// Length of each phase, 1s or more.
    #[arg(long, default_value = "10s", value_parser = phase_length)]
    pub duration: crate::crd::Duration,
    /// Rounds of (raw, pipeline) phases, run alternately.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// Folder of the secrets spec.kafka.security references, as DIR/<secret>/<key>.
    #[arg(long, value_parser = super::secrets_directory)]
    pub secrets_dir: Option<PathBuf>,
}

/// Measures, prints the table and the recommendation.
pub(super) async fn run(args: BenchArgs, shutdown: Shutdown) -> u8 {
    match bench_steps(args, shutdown).await {
        Ok(code) | Err(code) => code,
    }
}

async fn bench_steps(args: BenchArgs, shutdown: Shutdown) -> Result<u8, u8> {
    let (plan, mut kafka) = read_simulation(&args.file)?;
    if let Some(topic) = &args.topic {
        kafka.topic.clone_from(topic);
    }
    let credentials = resolve_credentials(&kafka.security, args.secrets_dir.as_deref())
        .map_err(|e| fail(EXIT_INVALID, e.to_string()))?;
    let (brokers, embedded) = match args.brokers.clone().or(kafka.bootstrap_servers.clone()) {
        Some(brokers) => (brokers, None),
        None => {
            embedded_can_serve(&kafka)?;
            let broker = EmbeddedBroker::start(&kafka.topic, kafka.partitions)
                .await
                .map_err(|e| fail(EXIT_FAILED, format!("embedded Kafka: {e}")))?;
            (broker.address.clone(), Some(broker))
        }
    };
    let probe =
        KafkaSink::new(&kafka, &brokers, "devsim-bench-probe", &credentials).map_err(|e| {
            fail(
                EXIT_INVALID,
                format!("{e} (check spec.kafka.properties and spec.kafka.security)"),
            )
        })?;
    check_reachable(&probe, &brokers)?;
    drop(probe);
    let config = BenchConfig {
        plan,
        kafka,
        brokers,
        credentials,
        phase: args.duration.get(),
        rounds: args.rounds,
        broker_pid: embedded.as_ref().map(|b| b.child.id()),
    };
    print_setup(&config, embedded.is_some());
    println!("{}", report::phase_header());
    let measured = run_bench(&config, |r| println!("{}", report::phase_line(r)));
    let results = tokio::select! {
        results = measured => results.map_err(|e| fail(EXIT_FAILED, e.to_string()))?,
        () = shutdown.requested() => {
            println!("interrupted");
            return Ok(EXIT_FAILED);
        }
    };
    print_conclusion(&config, &results);
    let failed: u64 = results.iter().map(|r| r.failed).sum();
    if failed > 0 {
        eprintln!("error: {failed} message(s) failed; the figures above are not a ceiling");
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

fn print_setup(config: &BenchConfig, embedded: bool) {
    let (plan, kafka) = (&config.plan, &config.kafka);
    println!(
        "devsim bench: simulation {}, {:?}, compression {}, acks {}, idempotence {}, linger {:?}, \
         {} producer task(s) per replica",
        plan.name,
        plan.encoding,
        kafka.compression,
        kafka.acks,
        kafka.idempotence,
        kafka.linger,
        plan.workers_per_replica
    );
    let where_ = if embedded {
        "embedded Kafka (librdkafka's mock cluster) in a process of its own; its CPU is shown apart"
    } else {
        "its CPU is not measured here"
    };
    println!(
        "brokers {} ({where_}); topic {}; {} rounds of raw then pipeline, {:?} each",
        config.brokers, kafka.topic, config.rounds, config.phase
    );
}

fn print_conclusion(config: &BenchConfig, results: &[PhaseResult]) {
    let (Some(raw), Some(pipeline)) = (
        report::summarise(results, Mode::Raw),
        report::summarise(results, Mode::Pipeline),
    ) else {
        return;
    };
    for (name, s) in [("raw", raw), ("pipeline", pipeline)] {
        println!(
            "{name:<9} median {:>10.0} msg/s (phases {:.0} to {:.0}), {:.2} µs CPU a message",
            s.rate.0, s.rate.1, s.rate.2, s.cpu_per_message_us
        );
    }
    if let Some(ratio) = report::pipeline_to_raw(results) {
        println!("pipeline / raw, median of the rounds: {ratio:.2}");
    }
    let plan = &config.plan;
    let scheduled = match plan.max_messages_per_second {
        Some(cap) => plan.scheduled_rate().min(cap as f64),
        None => plan.scheduled_rate(),
    };
    let per_replica = pipeline.rate.0;
    let replicas = report::recommended_replicas(scheduled, per_replica);
    println!(
        "simulation {} schedules {scheduled:.0} msg/s; one replica sustains about {per_replica:.0} \
         msg/s here, using {:.2} cores at that rate",
        plan.name,
        per_replica * pipeline.cpu_per_message_us / 1e6
    );
    println!(
        "recommended replicas: {replicas} (each planned at {:.0} % of its ceiling; spec.replicas is \
         {}). A replica whose CPU limit is below the cores above sustains proportionally less: \
         about {:.0} msg/s per core.",
        PLANNED_LOAD * 100.0,
        plan.replicas,
        1e6 / pipeline.cpu_per_message_us.max(1e-9)
    );
}

/// A `--duration` value: a duration of 1s or more.
fn phase_length(text: &str) -> Result<crate::crd::Duration, String> {
    let duration: crate::crd::Duration = text.parse().map_err(|e| format!("{e}"))?;
    if duration.get() < Duration::from_secs(1) {
        return Err(
            "must be 1s or more: a phase shorter than that measures start-up, not a rate".into(),
        );
    }
    Ok(duration)
}

/// `devsim broker` in a child process: the brokers under test run apart from the producer, as
/// users' brokers do, so that neither takes the other's CPU unseen.
struct EmbeddedBroker {
    child: Child,
    address: String,
    address_file: PathBuf,
}

impl EmbeddedBroker {
    /// Starts the child and waits for its address, without holding up the runtime's threads.
    async fn start(topic: &str, partitions: u32) -> Result<Self, String> {
        let file =
            std::env::temp_dir().join(format!("devsim-bench-{}.address", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let exe = std::env::current_exe().map_err(|e| format!("cannot find devsim itself: {e}"))?;
        let child = Command::new(exe)
            .args(["broker", "--topic", topic, "--brokers", EMBEDDED_BROKERS])
            .args(["--partitions", &partitions.to_string()])
            .arg("--address-file")
            .arg(&file)
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start devsim broker: {e}"))?;
        let mut broker = Self {
            child,
            address: String::new(),
            address_file: file.clone(),
        };
        let deadline = Instant::now() + BROKER_START_TIMEOUT;
        loop {
            match std::fs::read_to_string(&file) {
                Ok(address) if !address.trim().is_empty() => {
                    broker.address = address.trim().to_owned();
                    return Ok(broker);
                }
                _ if Instant::now() > deadline => {
                    return Err(format!("not up within {BROKER_START_TIMEOUT:?}"));
                }
                _ => {}
            }
            if let Ok(Some(status)) = broker.child.try_wait() {
                return Err(format!("devsim broker exited: {status}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.address_file);
    }
}
