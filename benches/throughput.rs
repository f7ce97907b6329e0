//! Side-by-side throughput: the raw producer with pre-built payloads (the ceiling, as
//! librdkafka's `rdkafka_performance` measures it) against devsim's full pipeline (schedule,
//! generation, encoding, hand-over), on the same embedded cluster, same producer settings,
//! alternating phases so that machine noise hits both. Also the engine alone, into a null sink.
//!
//! `cargo bench --bench throughput [-- SECONDS_PER_PHASE]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use devsim::config::{parse_simulation, validate};
use devsim::engine::encode::Encoder;
use devsim::engine::worker::{Delivery, DeviceWorker, PollOutcome};
use devsim::kafka::{Credentials, EmbeddedKafka, KafkaSink};
use devsim::runtime::{Fleet, FleetConfig, MessageSink, unix_now_ms};

const SPEC: &str = "apiVersion: devsim.io/v1alpha1
kind: DeviceSimulation
metadata:
  name: bench
spec:
  devices: 100000
  interval: 10ms
  kafka:
    topic: bench
    partitions: 12
    compression: none
    acks: \"1\"
    linger: 5ms
  replicas: 1
  workersPerReplica: 1
";

/// A sink that takes everything and counts it: the engine's own cost.
#[derive(Default)]
struct NullSink(AtomicU64);

impl MessageSink for NullSink {
    fn try_send(&self, key: &[u8], payload: &[u8], _: i64) -> Delivery {
        std::hint::black_box((key, payload));
        self.0.fetch_add(1, Ordering::Relaxed);
        Delivery::Accepted
    }
    fn flush(&self, _: Duration) -> Result<(), devsim::runtime::FlushError> {
        Ok(())
    }
    fn in_flight(&self) -> u64 {
        0
    }
    fn delivered(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn failed(&self) -> u64 {
        0
    }
}

fn main() {
    let phase = Duration::from_secs(
        std::env::args()
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(5),
    );
    let sim =
        validate(&parse_simulation(SPEC).expect("bench spec parses")).expect("bench spec is valid");
    let plan = Arc::new(sim.plan);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Pre-built payloads: real readings of the same simulation, so sizes match exactly.
    let (keys, payloads) = prebuilt_messages(&plan, 4096);
    let mean_size = payloads.iter().map(Vec::len).sum::<usize>() / payloads.len();
    println!(
        "messages: {mean_size} bytes of JSON on average, keys of {} bytes",
        keys[0].len()
    );

    let cluster =
        EmbeddedKafka::start(3, &sim.kafka.topic, sim.kafka.partitions).expect("embedded Kafka");
    let (mut raw, mut full) = (Vec::new(), Vec::new());
    for round in 0..2 {
        let sink = KafkaSink::new(
            &sim.kafka,
            cluster.bootstrap_servers(),
            "bench-raw",
            &Credentials::none(),
        )
        .expect("producer");
        raw.push(raw_producer(&sink, &keys, &payloads, phase));
        println!("round {round}: raw producer   {:>10.0} msg/s", raw[round]);
        let sink = Arc::new(
            KafkaSink::new(
                &sim.kafka,
                cluster.bootstrap_servers(),
                "bench-full",
                &Credentials::none(),
            )
            .expect("producer"),
        );
        full.push(runtime.block_on(pipeline(&plan, Arc::clone(&sink), phase)));
        println!("round {round}: full pipeline  {:>10.0} msg/s", full[round]);
    }
    let engine = runtime.block_on(pipeline(&plan, Arc::new(NullSink::default()), phase));
    for (label, encoding) in [
        ("generation only", None),
        (
            "generation + JSON",
            Some(devsim::engine::plan::Encoding::Json),
        ),
        (
            "generation + protobuf",
            Some(devsim::engine::plan::Encoding::Protobuf),
        ),
    ] {
        println!(
            "{label:<24} {:>6.0} ns a message (one core, no sink)",
            engine_cost_ns(&plan, encoding, 5_000_000)
        );
    }
    let (raw, full) = (
        raw.iter().sum::<f64>() / 2.0,
        full.iter().sum::<f64>() / 2.0,
    );
    println!(
        "engine alone (null sink) {engine:>10.0} msg/s = {:.0} ns a message",
        1e9 / engine
    );
    println!("raw producer             {raw:>10.0} msg/s");
    println!(
        "full pipeline            {full:>10.0} msg/s = {:.1} % of raw",
        100.0 * full / raw
    );
    if let Some(rss) = devsim::metrics::peak_resident_memory_bytes() {
        println!("peak RSS                 {:.0} MiB", rss as f64 / 1048576.0);
    }
}

fn prebuilt_messages(
    plan: &Arc<devsim::engine::plan::SimulationPlan>,
    n: usize,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut worker = DeviceWorker::new(Arc::clone(plan), 0, (0..plan.devices).collect(), 0);
    let mut encoder = Encoder::new(plan.encoding);
    let (mut keys, mut payloads) = (Vec::new(), Vec::new());
    let mut now = 0;
    while payloads.len() < n {
        now += 1_000_000;
        let outcome = worker.poll(now, n - payloads.len(), |r| {
            let mut payload = Vec::new();
            encoder.encode(r, &mut payload);
            keys.push(r.device_id.as_bytes().to_vec());
            payloads.push(payload);
            Delivery::Accepted
        });
        debug_assert!(outcome != PollOutcome::Blocked);
    }
    (keys, payloads)
}

/// Nanoseconds per reading of one worker polled in a tight loop, optionally encoding each.
fn engine_cost_ns(
    plan: &Arc<devsim::engine::plan::SimulationPlan>,
    encoding: Option<devsim::engine::plan::Encoding>,
    readings: u64,
) -> f64 {
    let mut worker = DeviceWorker::new(Arc::clone(plan), 0, (0..plan.devices).collect(), 0);
    let mut encoder = encoding.map(Encoder::new);
    let mut buffer = Vec::with_capacity(1024);
    let mut produced = 0u64;
    let mut now = 0;
    let start = Instant::now();
    while produced < readings {
        now += 1_000_000;
        worker.poll(now, usize::MAX, |r| {
            if let Some(e) = encoder.as_mut() {
                e.encode(r, &mut buffer);
            }
            std::hint::black_box((r.values, &buffer));
            produced += 1;
            Delivery::Accepted
        });
    }
    start.elapsed().as_nanos() as f64 / produced as f64
}

/// librdkafka at full speed with nothing to compute: hand over pre-built messages in a loop.
fn raw_producer(sink: &KafkaSink, keys: &[Vec<u8>], payloads: &[Vec<u8>], phase: Duration) -> f64 {
    let start = Instant::now();
    let mut sent = 0u64;
    let mut i = 0usize;
    while start.elapsed() < phase {
        for _ in 0..1024 {
            let k = i % keys.len();
            match sink.try_send(&keys[k], &payloads[k], 0) {
                Delivery::Accepted => {
                    sent += 1;
                    i += 1;
                }
                // The same back-off the pipeline's tasks use.
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
    let _ = sink.flush(Duration::from_secs(30));
    sent as f64 / start.elapsed().as_secs_f64()
}

/// The full pipeline for `phase`: returns messages per second including the final flush.
async fn pipeline<S: MessageSink>(
    plan: &Arc<devsim::engine::plan::SimulationPlan>,
    sink: Arc<S>,
    phase: Duration,
) -> f64 {
    let t0 = unix_now_ms() + devsim::runtime::startup_allowance(plan.devices).as_millis() as i64;
    let fleet = Fleet::start(
        &FleetConfig {
            plan: Arc::clone(plan),
            shards: vec![0],
            unix_t0_ms: t0,
            unix_start_ms: t0,
            exit_when_done: true,
            idle: false,
        },
        Arc::clone(&sink),
    );
    tokio::time::sleep(devsim::runtime::startup_allowance(plan.devices)).await;
    let start = Instant::now();
    let before = fleet.snapshot(sink.as_ref()).sent;
    tokio::time::sleep(phase).await;
    fleet.stop();
    let mut fleet = fleet;
    fleet.join().await;
    let sent = fleet.snapshot(sink.as_ref()).sent - before;
    let sink2 = Arc::clone(&sink);
    let _ = tokio::task::spawn_blocking(move || sink2.flush(Duration::from_secs(30))).await;
    sent as f64 / start.elapsed().as_secs_f64()
}
