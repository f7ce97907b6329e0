//! Serving librdkafka's delivery reports: on the producer tasks' own threads between batches,
//! and from a slow pump thread when no task is producing.
//!
//! rust-rdkafka's `ThreadedProducer` serves them on a thread of its own, woken for every batch
//! acknowledged. Measured at saturation (`perf`), that thread cost a quarter of the process's
//! CPU, most of it not the reports themselves but freeing messages allocated on another
//! thread: glibc's per-thread caches cannot take them, so every free locks the producer
//! thread's arena, which the producer is allocating from. Served where they were allocated,
//! the frees feed the next allocations instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, ProducerContext};

/// How soon the pump looks again after finding reports: the most a report waits while every
/// producer task sleeps (a blocked fleet, a flush).
pub const PUMP_PERIOD: Duration = Duration::from_millis(5);
/// How long the pump sleeps at most while it keeps finding nothing (an idle or paused fleet,
/// or tasks that serve every report themselves): its wake-ups cost an idle worker nothing.
pub const PUMP_IDLE_PERIOD: Duration = Duration::from_millis(100);
/// Most events one [`serve`] call takes: each is a batch of reports, so this bounds the call's
/// time without leaving a backlog behind at any rate a producer reaches.
const MOST_EVENTS: usize = 256;

/// Serves every delivery report and client event waiting, without waiting for more; returns
/// whether it served any report. `handled` counts the reports served so far: a poll that moved
/// it took an event, so there may be more; one that did not found the queue empty (or took an
/// error event, served too).
pub fn serve<C: ProducerContext>(producer: &BaseProducer<C>, handled: impl Fn() -> u64) -> bool {
    let start = handled();
    for _ in 0..MOST_EVENTS {
        let before = handled();
        producer.poll(Duration::ZERO);
        if handled() == before {
            break;
        }
    }
    handled() != start
}

/// A thread that serves reports every [`PUMP_PERIOD`] while it finds some, backing off to
/// [`PUMP_IDLE_PERIOD`] while it finds none, until dropped.
pub struct DeliveryPump {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DeliveryPump {
    /// Starts serving `producer`'s reports; `handled` as for [`serve`].
    pub fn start<C: ProducerContext + 'static>(
        producer: Arc<BaseProducer<C>>,
        handled: impl Fn() -> u64 + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("devsim-deliveries".into())
            .spawn(move || {
                let mut period = PUMP_PERIOD;
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::park_timeout(period);
                    period = if serve(&producer, &handled) {
                        PUMP_PERIOD
                    } else {
                        (period * 2).min(PUMP_IDLE_PERIOD)
                    };
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for DeliveryPump {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
