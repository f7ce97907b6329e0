//! `devsim bench`: how fast one replica of a simulation can push to a given Kafka, measured
//! as the raw ceiling (pre-built messages, librdkafka alone) and the full pipeline (schedule,
//! generation, encoding, hand-over) side by side, phase after phase, so that noise on the
//! machine or the brokers hits both alike.

pub mod measure;
pub mod pipeline;
pub mod raw;
pub mod report;

use std::sync::Arc;
use std::time::Duration;

use crate::engine::plan::{KafkaPlan, SimulationPlan};
use crate::kafka::{Credentials, KafkaSink, SinkError};
use crate::runtime::MessageSink;
use measure::CpuMeter;
use raw::Prebuilt;

/// Distinct pre-built messages the raw phases cycle through: enough that keys spread over
/// every partition as the pipeline's do.
const PREBUILT: usize = 8192;
/// How long the producer gets to deliver what a phase queued.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a phase waits for the brokers' metadata before it starts its clock.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What produces the messages of a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pre-built messages handed to librdkafka in a loop.
    Raw,
    /// The simulation's engine at saturation.
    Pipeline,
}

impl Mode {
    /// The mode's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Pipeline => "pipeline",
        }
    }
}

/// What to measure, and against which brokers.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The simulation as the user wrote it: its encoding, profiles and tasks per replica.
    pub plan: SimulationPlan,
    /// Its producer settings and topic.
    pub kafka: KafkaPlan,
    /// Brokers to produce to.
    pub brokers: String,
    /// Secrets the producer settings need.
    pub credentials: Credentials,
    /// Length of one phase.
    pub phase: Duration,
    /// Rounds of (raw, pipeline).
    pub rounds: u32,
    /// The broker's process when it runs on this machine, to report its CPU too.
    pub broker_pid: Option<u32>,
}

/// The figures of one phase.
#[derive(Clone, Debug)]
pub struct PhaseResult {
    /// Round, from 1.
    pub round: u32,
    /// What produced the messages.
    pub mode: Mode,
    /// Messages the brokers acknowledged.
    pub delivered: u64,
    /// Messages that failed.
    pub failed: u64,
    /// Keys and values acknowledged, in bytes.
    pub delivered_bytes: u64,
    /// From the first message handed over until the last one was acknowledged, in seconds.
    pub seconds: f64,
    /// CPU seconds of this process over the phase (every thread: engine and librdkafka).
    pub cpu_seconds: f64,
    /// CPU seconds of the broker's process over the phase, when it runs on this machine.
    pub broker_cpu_seconds: Option<f64>,
    /// Delivery latency percentiles (50, 99, 99.9), hand-over to acknowledgement.
    pub latency: [Duration; 3],
    /// This process's resident memory at the end of the phase, before the producer is dropped.
    pub resident_bytes: Option<u64>,
}

impl PhaseResult {
    /// Acknowledged messages per second.
    pub fn rate(&self) -> f64 {
        self.delivered as f64 / self.seconds.max(1e-9)
    }

    /// Acknowledged megabytes (10^6 bytes) per second.
    pub fn megabytes_per_second(&self) -> f64 {
        self.delivered_bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }

    /// CPU microseconds of this process per acknowledged message.
    pub fn cpu_per_message_us(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.delivered.max(1) as f64
    }
}

/// Runs `config.rounds` rounds of a raw phase then a pipeline phase, calling `on_phase` with
/// each result as it comes.
pub async fn run_bench(
    config: &BenchConfig,
    mut on_phase: impl FnMut(&PhaseResult),
) -> Result<Vec<PhaseResult>, SinkError> {
    let user_plan = Arc::new(config.plan.clone());
    let prebuilt = Arc::new(Prebuilt::from_plan(&user_plan, PREBUILT));
    let flat_out = Arc::new(pipeline::saturating(&config.plan));
    let mut results = Vec::new();
    for round in 1..=config.rounds {
        for mode in [Mode::Raw, Mode::Pipeline] {
            let result = run_phase(config, round, mode, &prebuilt, &flat_out).await?;
            on_phase(&result);
            results.push(result);
        }
    }
    Ok(results)
}

/// One phase on a fresh producer, so that its figures are its own.
async fn run_phase(
    config: &BenchConfig,
    round: u32,
    mode: Mode,
    prebuilt: &Arc<Prebuilt>,
    flat_out: &Arc<SimulationPlan>,
) -> Result<PhaseResult, SinkError> {
    let sink = Arc::new(KafkaSink::new(
        &config.kafka,
        &config.brokers,
        &format!("devsim-bench-{}", mode.name()),
        &config.credentials,
    )?);
    // Connections and metadata first: a phase measures producing, not connecting.
    let connected = Arc::clone(&sink);
    let _ = tokio::task::spawn_blocking(move || connected.check_reachable(CONNECT_TIMEOUT)).await;
    let meters = || {
        (
            CpuMeter::start(std::process::id()),
            config.broker_pid.map(CpuMeter::start),
        )
    };
    let (own, broker) = match mode {
        Mode::Raw => {
            let started = meters();
            let (sink, prebuilt, phase) = (Arc::clone(&sink), Arc::clone(prebuilt), config.phase);
            let _ = tokio::task::spawn_blocking(move || {
                raw::produce_raw(sink.as_ref(), &prebuilt, phase)
            })
            .await;
            started
        }
        Mode::Pipeline => pipeline::produce_pipeline(flat_out, &sink, config.phase, meters).await,
    };
    let flushing = Arc::clone(&sink);
    let _ = tokio::task::spawn_blocking(move || flushing.flush(FLUSH_TIMEOUT)).await;
    let (cpu_seconds, seconds) = own.read();
    let stats = sink.stats();
    Ok(PhaseResult {
        round,
        mode,
        delivered: sink.delivered(),
        failed: sink.failed(),
        delivered_bytes: stats
            .delivered_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        seconds,
        cpu_seconds,
        broker_cpu_seconds: broker.map(|b| b.read().0),
        latency: [0.5, 0.99, 0.999].map(|q| stats.latency_percentile(q)),
        resident_bytes: measure::resident_bytes(std::process::id()),
    })
}
