//! Live re-sharding between running fleets, as worker processes do it: release at a common cut,
//! take over just after it. Every (device, seq) is produced exactly once, with no gap.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devsim::engine::plan::{Encoding, SimulationPlan};
use devsim::engine::worker::Delivery;
use devsim::runtime::{Fleet, FleetConfig, MessageSink, startup_allowance, unix_now_ms};
use devsim::verify::decode;

/// Keeps (device, seq) of every message it is handed.
#[derive(Default)]
struct MemorySink(Mutex<Vec<(String, u64)>>);

impl MessageSink for MemorySink {
    fn try_send(&self, _key: &[u8], payload: &[u8], _timestamp_ms: i64) -> Delivery {
        let reading = decode(Encoding::Json, payload).expect("payload decodes");
        self.0
            .lock()
            .expect("lock")
            .push((reading.device_id, reading.seq));
        Delivery::Accepted
    }
    fn flush(&self, _: Duration) -> Result<(), devsim::runtime::FlushError> {
        Ok(())
    }
    fn in_flight(&self) -> u64 {
        0
    }
    fn delivered(&self) -> u64 {
        self.0.lock().expect("lock").len() as u64
    }
    fn failed(&self) -> u64 {
        0
    }
}

/// One worker process: a fleet for one shard, idle until it takes devices over.
fn worker(plan: &Arc<SimulationPlan>, shard: u32, t0_ms: i64, sink: &Arc<MemorySink>) -> Fleet {
    Fleet::start(
        &FleetConfig {
            plan: Arc::clone(plan),
            shards: vec![shard],
            unix_t0_ms: t0_ms,
            unix_start_ms: t0_ms,
            exit_when_done: false,
            idle: true,
        },
        Arc::clone(sink),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_two_three_two_at_a_common_cut_is_exact() {
    let plan = Arc::new(
        common::simulation(&common::spec(
            "devices: 300\ninterval: 50ms\njitter: 0.3\nreplicas: 3\nworkersPerReplica: 2",
        ))
        .plan,
    );
    let sink = Arc::new(MemorySink::default());
    let t0_ms =
        unix_now_ms() + startup_allowance(&plan, u64::from(plan.devices)).as_millis() as i64;
    let fleets: Vec<Fleet> = (0..3)
        .map(|shard| worker(&plan, shard, t0_ms, &sink))
        .collect();
    // Two shards own everything from the start.
    for f in &fleets[..2] {
        f.take_over(0, 2, |_| 0);
    }
    let mut count = 2;
    for next in [3u32, 2, 3] {
        tokio::time::sleep(Duration::from_millis(700)).await;
        // Every shard releases at its own cut; each moved device starts just after the cut of
        // the shard that owned it.
        let mut cuts = Vec::new();
        for f in &fleets {
            cuts.push(f.release_for(next).await);
        }
        for f in &fleets[..next as usize] {
            f.take_over(count, next, |owner| {
                cuts[owner.expect("old owner known") as usize] + 1
            });
        }
        count = next;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut cut = 0;
    for f in &fleets {
        cut = cut.max(f.release_for(0).await);
    }
    for mut f in fleets {
        f.stop();
        f.join().await;
    }

    let mut by_device: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (device, seq) in sink.0.lock().expect("lock").iter() {
        by_device.entry(device.clone()).or_default().push(*seq);
    }
    assert_eq!(by_device.len(), 300);
    let expected_last = cut / 50_000_000; // readings due before the final cut, roughly
    for (device, mut seqs) in by_device {
        let produced = seqs.len();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(
            seqs.len(),
            produced,
            "{device}: a reading was produced twice"
        );
        assert_eq!(
            seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "{device}: a gap"
        );
        assert!(
            seqs.len() as u64 + 2 >= expected_last,
            "{device}: {} readings, expected about {expected_last}",
            seqs.len()
        );
    }
}
