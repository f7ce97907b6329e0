//! `devsim run`: every shard of a simulation in this process, against `--brokers`, the file's
//! brokers, or an embedded Kafka.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;

use super::setup::{check_memory, check_reachable, embedded_can_serve, fail, read_simulation};
use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::engine::footprint::devices_per_shard_bound;
use crate::engine::plan::{KafkaPlan, SimulationPlan};
use crate::kafka::{EmbeddedKafka, KafkaSink, SinkStats, resolve_credentials};
use crate::metrics::{self, Metrics};
use crate::runtime::health::{Health, Problem};
use crate::runtime::{
    Fleet, FleetConfig, FlushError, MessageSink, Report, Snapshot, startup_allowance, unix_now_ms,
};
use crate::shutdown::Shutdown;

/// Brokers of the embedded cluster: enough to spread partition leaders as a real cluster does.
const EMBEDDED_BROKERS: u32 = 3;
/// How long the producer gets to deliver what is queued when the run ends.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Flags of `devsim run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Simulation file (a DeviceSimulation resource, as for kubectl apply).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Brokers to produce to, overriding spec.kafka.bootstrapServers. Without either, an
    /// embedded Kafka is started in this process.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Run length, overriding spec.duration (for example 20s). Without either, runs until Ctrl-C.
    #[arg(long)]
    pub duration: Option<crate::crd::Duration>,
    /// Serve /metrics, /healthz and /readyz on this address (for example 127.0.0.1:9400).
    #[arg(long, value_parser = super::socket_address)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Seconds between two live lines; 0 turns them off.
    #[arg(long, default_value_t = 1.0, value_parser = seconds_between_lines)]
    pub report_every: f64,
    /// Folder of the secrets spec.kafka.security references, as DIR/<secret>/<key> (a Secret
    /// mounted as a volume has this layout). Each DEVSIM_KAFKA_* variable that is set wins.
    #[arg(long, value_parser = super::secrets_directory)]
    pub secrets_dir: Option<PathBuf>,
    /// Run only this shard (0-based, below spec.replicas): one worker pod's share of the
    /// devices, to see what one replica needs on this machine. Without it, every shard runs.
    #[arg(long)]
    pub shard: Option<u32>,
}

/// Runs the simulation: load -> connect -> produce until the end or a signal -> flush -> summary.
pub(super) async fn run(args: RunArgs, shutdown: Shutdown) -> u8 {
    match run_steps(args, shutdown).await {
        Ok(code) | Err(code) => code,
    }
}

/// The steps of [`run`]; an `Err` is the exit code of a step that could not go on.
async fn run_steps(args: RunArgs, shutdown: Shutdown) -> Result<u8, u8> {
    let (plan, kafka) = load(&args)?;
    let (shards, devices_here): (Vec<u32>, u64) = match args.shard {
        Some(s) => (
            vec![s],
            devices_per_shard_bound(plan.devices, plan.replicas),
        ),
        None => ((0..plan.replicas).collect(), u64::from(plan.devices)),
    };
    check_memory(&plan, &kafka, devices_here)?;
    let (sink, embedded, brokers) = connect(&args, &plan, &kafka)?;
    let metrics = Arc::new(Metrics::new(&plan.name, "", "all"));
    if let Some(addr) = args.metrics_addr {
        let bound = metrics::serve(addr, Arc::clone(&metrics))
            .await
            .map_err(|e| fail(EXIT_INVALID, format!("--metrics-addr {addr}: {e}")))?;
        println!("metrics on http://{bound}/metrics");
    }

    // t0 lies a little ahead, so every device starts at sequence 0 on time once its task is built.
    let t0_ms = unix_now_ms() + startup_allowance(&plan, devices_here).as_millis() as i64;
    let plan = Arc::new(plan);
    let mut fleet = Fleet::start(
        &FleetConfig {
            plan: Arc::clone(&plan),
            shards,
            unix_t0_ms: t0_ms,
            unix_start_ms: t0_ms,
            exit_when_done: true,
            idle: false,
        },
        Arc::clone(&sink),
    );
    metrics.set_ready(true);
    let shards_here = args.shard.map_or_else(
        || format!("{} shard(s)", plan.replicas),
        |s| format!("shard {s} of {}", plan.replicas),
    );
    println!(
        "simulation {}: {} devices every {:?} ({:.0} msg/s scheduled), {shards_here} x {} worker(s), {}",
        plan.name,
        plan.devices,
        plan.interval,
        plan.scheduled_rate(),
        plan.workers_per_replica,
        plan.duration
            .map_or("until Ctrl-C".to_owned(), |d| format!("for {d:?}")),
    );

    let started = std::time::Instant::now();
    let previous = produce(
        &fleet,
        (&sink, &brokers, kafka.buffer_memory),
        &metrics,
        &shutdown,
        args.report_every,
    )
    .await;
    fleet.stop();
    fleet.join().await;
    let flush = {
        let sink = Arc::clone(&sink);
        tokio::task::spawn_blocking(move || sink.flush(FLUSH_TIMEOUT)).await
    };
    let last = fleet.snapshot(sink.as_ref());
    record(
        &metrics,
        &Report::between(&previous, last),
        &fleet,
        &sink,
        kafka.buffer_memory,
    );
    print_summary(started.elapsed(), &last, sink.as_ref(), kafka.acks);
    let code = exit_code(flush, &last, &sink);
    // The producer goes before the embedded cluster, or it logs the brokers going away.
    drop(sink);
    drop(embedded);
    Ok(code)
}

/// Reads and validates the file, then applies the flags that override it.
fn load(args: &RunArgs) -> Result<(SimulationPlan, KafkaPlan), u8> {
    let (mut plan, kafka) = read_simulation(&args.file)?;
    if let Some(d) = &args.duration {
        if d.get().is_zero() {
            return Err(fail(
                EXIT_INVALID,
                "--duration: must be more than 0s".into(),
            ));
        }
        plan.duration = Some(d.get());
    }
    if plan.replicas == 0 {
        return Err(fail(
            EXIT_INVALID,
            "spec.replicas: is 0, so there is nothing to run; set it to 1 or more".into(),
        ));
    }
    if let Some(shard) = args.shard.filter(|&s| s >= plan.replicas) {
        return Err(fail(
            EXIT_INVALID,
            format!(
                "--shard: is {shard}, but spec.replicas is {}: allowed 0 to {}",
                plan.replicas,
                plan.replicas - 1
            ),
        ));
    }
    Ok((plan, kafka))
}

/// The producer, against `--brokers`, the file's brokers, or an embedded Kafka started here
/// (returned too: it lives as long as the run), and the brokers it produces to.
fn connect(
    args: &RunArgs,
    plan: &SimulationPlan,
    kafka: &KafkaPlan,
) -> Result<(Arc<KafkaSink>, Option<EmbeddedKafka>, String), u8> {
    let mut embedded = None;
    let brokers = match args
        .brokers
        .clone()
        .or_else(|| kafka.bootstrap_servers.clone())
    {
        Some(brokers) => brokers,
        None => {
            embedded_can_serve(kafka)?;
            let cluster = EmbeddedKafka::start(EMBEDDED_BROKERS, &kafka.topic, kafka.partitions)
                .map_err(|e| fail(EXIT_FAILED, e.to_string()))?;
            let brokers = cluster.bootstrap_servers().to_owned();
            println!(
                "embedded Kafka (librdkafka mock cluster, {EMBEDDED_BROKERS} brokers) at {brokers}; topic {} with {} partitions",
                kafka.topic, kafka.partitions
            );
            embedded = Some(cluster);
            brokers
        }
    };
    let credentials = resolve_credentials(&kafka.security, args.secrets_dir.as_deref())
        .map_err(|e| fail(EXIT_INVALID, e.to_string()))?;
    let sink = KafkaSink::new(
        kafka,
        &brokers,
        &format!("devsim-{}", plan.name),
        &credentials,
    )
    .map_err(|e| {
        fail(
            EXIT_INVALID,
            format!("{e} (check spec.kafka.properties and spec.kafka.security)"),
        )
    })?;
    check_reachable(&sink, &brokers)?;
    Ok((Arc::new(sink), embedded, brokers))
}

/// Reports every `report_every` seconds (live lines unless 0) until every task is done or a
/// shutdown is requested; returns the last figures reported.
async fn produce(
    fleet: &Fleet,
    (sink, brokers, buffer_memory): (&Arc<KafkaSink>, &str, u64),
    metrics: &Metrics,
    shutdown: &Shutdown,
    report_every: f64,
) -> Snapshot {
    let started = std::time::Instant::now();
    let mut previous = fleet.snapshot(sink.as_ref());
    let mut health = Health::new(brokers, buffer_memory);
    let every = Duration::from_secs_f64(if report_every > 0.0 {
        report_every
    } else {
        1.0
    });
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let signal = shutdown.requested();
    tokio::pin!(signal);
    let all_done = fleet.all_done();
    tokio::pin!(all_done);
    loop {
        tokio::select! {
            _ = &mut signal => {
                println!("interrupted: stopping the producers and flushing");
                return previous;
            }
            _ = &mut all_done => return previous,
            _ = ticker.tick() => {
                let report = Report::between(&previous, fleet.snapshot(sink.as_ref()));
                record(metrics, &report, fleet, sink, buffer_memory);
                let faults = sink.stats().faults();
                let problem = health.observe(&sink.stats().observation(&report.now, &faults));
                if report_every > 0.0 {
                    print_live(started.elapsed(), &report, sink.stats(), problem);
                }
                previous = report.now;
            }
        }
    }
}

/// Folds a report period into the metrics (one producer for the whole run).
fn record(metrics: &Metrics, report: &Report, fleet: &Fleet, sink: &KafkaSink, buffer_limit: u64) {
    metrics.record(&metrics::Observed {
        report,
        sink: sink.stats(),
        lag_ns: &fleet.lag_histogram(),
        devices: fleet.devices(),
        buffer_limit,
        new_producer: false,
    });
}

fn exit_code(
    flush: Result<Result<(), FlushError>, tokio::task::JoinError>,
    last: &crate::runtime::Snapshot,
    sink: &KafkaSink,
) -> u8 {
    match flush {
        Ok(Ok(())) if last.delivered == last.sent && last.failed == 0 => EXIT_OK,
        Ok(Ok(())) => {
            eprintln!(
                "error: {} of {} messages were not delivered{}",
                last.sent - last.delivered.min(last.sent),
                last.sent,
                sink.stats()
                    .last_error()
                    .map_or(String::new(), |e| format!(" (last error: {e})"))
            );
            EXIT_FAILED
        }
        Ok(Err(e)) => {
            eprintln!("error: flushing the producer: {e}");
            EXIT_FAILED
        }
        Err(e) => {
            eprintln!("error: flushing the producer: {e}");
            EXIT_FAILED
        }
    }
}

/// One line a second: delivered msg/s first (what Kafka acknowledged), then what was handed
/// over, and the problem while there is one.
fn print_live(elapsed: Duration, r: &Report, stats: &SinkStats, problem: Option<&Problem>) {
    let mut line = format!(
        "[{:>6.1}s] delivered {:>8.0} msg/s (sent {:>8.0}/s)  delivered {:>11}  sent {:>11}  failed {}  dropped {}  buffered {:.1} MiB  lag p99 {:.1} ms",
        elapsed.as_secs_f64(),
        r.delivered_per_second,
        r.sent_per_second,
        r.now.delivered,
        r.now.sent,
        r.now.failed,
        r.now.dropped,
        stats.buffered_bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0),
        r.now.lag_p99_ms,
    );
    if r.now.skipped > 0 {
        line.push_str(&format!("  skipped {}", r.now.skipped));
    }
    if r.now.behind_ms >= 1_000.0 {
        line.push_str(&format!("  behind {:.1} s", r.now.behind_ms / 1e3));
    }
    if let Some(p) = problem {
        line.push_str(&format!("  [{}] {}", p.cause.reason(), p.message));
    }
    println!("{line}");
}

fn print_summary(elapsed: Duration, last: &crate::runtime::Snapshot, sink: &KafkaSink, acks: &str) {
    let stats = sink.stats();
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!("summary:");
    println!("  duration            {secs:.1} s");
    println!("  sent                {}", last.sent);
    if acks == "0" {
        // Nothing comes back with acks=0: what reached a connection is all the client knows,
        // and a broken connection loses what was in it without a word.
        println!(
            "  delivered           {} (acks=0: written to a connection, not confirmed by Kafka; \
             devsim verify counts what arrived)",
            last.delivered
        );
    } else {
        println!("  delivered           {}", last.delivered);
    }
    println!("  failed              {}", last.failed);
    println!("  dropped             {}", last.dropped);
    println!("  skipped             {}", last.skipped);
    println!(
        "  delivered rate      {:.0} msg/s",
        last.delivered as f64 / secs
    );
    println!(
        "  delivery latency    p50 {:.2} ms, p99 {:.2} ms",
        stats.latency_percentile(0.5).as_secs_f64() * 1e3,
        stats.latency_percentile(0.99).as_secs_f64() * 1e3
    );
    println!(
        "  schedule lag        p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        last.lag_p50_ms, last.lag_p99_ms, last.lag_max_ms
    );
    if let Some(rss) = metrics::peak_resident_memory_bytes() {
        println!(
            "  peak resident mem.  {:.1} MiB",
            rss as f64 / (1024.0 * 1024.0)
        );
    }
}

/// A `--report-every` value: seconds, 0 or more.
fn seconds_between_lines(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
        _ => Err(
            "expected seconds between two live lines, such as 1 or 0.5 (0 turns them off)"
                .to_owned(),
        ),
    }
}
