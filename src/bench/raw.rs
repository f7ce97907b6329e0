//! The raw ceiling: librdkafka handed pre-built messages as fast as it takes them, with
//! nothing to schedule, generate or encode, as `rdkafka_performance` and `kcat -P` measure it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::encode::Encoder;
use crate::engine::plan::SimulationPlan;
use crate::engine::worker::{Delivery, DeviceWorker};
use crate::runtime::MessageSink;

/// How long the raw loop waits when the producer's buffer is full: the pipeline's own back-off.
const FULL_BACKOFF: Duration = Duration::from_millis(1);

/// Real readings of a simulation, encoded once: keys, values and timestamps of the same
/// sizes the pipeline sends.
#[derive(Clone, Debug, Default)]
pub struct Prebuilt {
    keys: Vec<Vec<u8>>,
    payloads: Vec<Vec<u8>>,
}

impl Prebuilt {
    /// The first `count` readings of `plan` (at least one), encoded with its encoding.
    pub fn from_plan(plan: &Arc<SimulationPlan>, count: usize) -> Self {
        let count = count.max(1);
        // Enough blocks for `count` devices, each producing its first reading.
        let layout = plan.layout();
        let blocks = (0..layout
            .blocks()
            .min((count as u32).div_ceil(layout.block_size())))
            .collect();
        let mut worker = DeviceWorker::new(Arc::clone(plan), 0, blocks, 0);
        let mut encoder = Encoder::new(plan.encoding);
        let mut built = Self::default();
        let step = plan.interval.as_nanos().max(1) as u64;
        let mut now = 0u64;
        while built.payloads.len() < count {
            now += step;
            worker.poll(now, count - built.payloads.len(), |reading| {
                let mut payload = Vec::new();
                encoder.encode(reading, &mut payload);
                built.keys.push(reading.device_id.as_bytes().to_vec());
                built.payloads.push(payload);
                Delivery::Accepted
            });
        }
        built
    }

    /// Mean bytes of a message (key and value).
    pub fn mean_size(&self) -> f64 {
        let total: usize = self.keys.iter().map(Vec::len).sum::<usize>()
            + self.payloads.iter().map(Vec::len).sum::<usize>();
        total as f64 / self.payloads.len().max(1) as f64
    }
}

/// Hands `messages` to `sink` round and round for `phase`, serving delivery reports between
/// rounds and waiting whenever its buffer is full, as the pipeline's tasks do; returns how
/// many it took. Runs on the calling thread.
pub fn produce_raw(sink: &impl MessageSink, messages: &Prebuilt, phase: Duration) -> u64 {
    let started = Instant::now();
    let now_ms = crate::runtime::unix_now_ms();
    let mut sent = 0u64;
    let mut next = 0usize;
    while started.elapsed() < phase {
        // The clock is read once per round of 1,024, as a tight producer loop would.
        for _ in 0..1024 {
            let i = next % messages.payloads.len();
            match sink.try_send(&messages.keys[i], &messages.payloads[i], now_ms) {
                Delivery::Accepted => {
                    sent += 1;
                    next += 1;
                }
                Delivery::QueueFull => {
                    sink.serve_deliveries();
                    std::thread::sleep(FULL_BACKOFF);
                }
                Delivery::Rejected => next += 1,
            }
        }
        sink.serve_deliveries();
    }
    sent
}
