//! The engine alone: generation and encoding on one core, then the whole fleet on Tokio into a
//! null sink. What Kafka adds is measured by `devsim bench` and `benches/ceiling.sh`, against a
//! broker in a process of its own (a broker sharing this process would share its cores and
//! measure itself as much as the producer).
//!
//! `cargo bench --bench throughput [-- SECONDS]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use devsim::config::{parse_simulation, validate};
use devsim::engine::encode::Encoder;
use devsim::engine::worker::{Delivery, DeviceWorker};
use devsim::runtime::MessageSink;

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
    let engine = runtime.block_on(pipeline(&plan, Arc::new(NullSink::default()), phase));
    println!(
        "engine on Tokio, null sink {engine:>10.0} msg/s = {:.0} ns a message",
        1e9 / engine
    );
}

/// Nanoseconds per reading of one worker polled in a tight loop, optionally encoding each.
fn engine_cost_ns(
    plan: &Arc<devsim::engine::plan::SimulationPlan>,
    encoding: Option<devsim::engine::plan::Encoding>,
    readings: u64,
) -> f64 {
    let mut worker = DeviceWorker::new(
        Arc::clone(plan),
        0,
        (0..plan.layout().blocks()).collect(),
        0,
    );
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

/// The whole fleet on Tokio into `sink` for `phase`: messages per second.
async fn pipeline(
    plan: &Arc<devsim::engine::plan::SimulationPlan>,
    sink: Arc<NullSink>,
    phase: Duration,
) -> f64 {
    let (before, start) = devsim::bench::pipeline::produce_pipeline(plan, &sink, phase, || {
        (sink.delivered(), Instant::now())
    })
    .await;
    (sink.delivered() - before) as f64 / start.elapsed().as_secs_f64()
}
