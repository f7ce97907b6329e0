//! A running simulation under change: rescales, a crashed worker, a failed-over operator,
//! pause, resume and interval edits.

use std::time::Duration;

use devsim::crd::Phase;
use kube::api::ListParams;

use super::{
    DEVICES, E2e, INTERVAL_MS, NS, lease_holder, patch_spec, rate_ok, status, verify_topic,
};
use crate::common;
use crate::e2e_support::{self, eventually};

/// Scale 2 -> 3 -> 2 while running: status follows, and the hand-offs lose and repeat nothing.
pub async fn scale_with_exact_handoff(e: &mut E2e) {
    let sims = &e.sims;
    for replicas in [3u32, 2] {
        e.cluster.kubectl_ok(&[
            "scale",
            "devsim/plant",
            "-n",
            NS,
            &format!("--replicas={replicas}"),
        ]);
        eventually(
            &format!("{replicas} shards confirmed and the full rate back"),
            Duration::from_secs(60),
            || async {
                let s = status(sims, "plant").await;
                let settled = e2e_support::shards_settled(&s, replicas);
                if !settled {
                    let shards: Vec<_> = s
                        .shards
                        .iter()
                        .map(|e| (e.index, e.shard_count, e.devices, e.messages_per_second))
                        .collect();
                    eprintln!(
                        "e2e: waiting: replicas {} ready {} rate {} shards {shards:?}",
                        s.replicas, s.ready_replicas, s.messages_per_second
                    );
                }
                (settled && rate_ok(s.messages_per_second, INTERVAL_MS)).then_some(())
            },
        )
        .await;
        eprintln!(
            "e2e: scaled to {replicas}:\n{}",
            e.cluster.kubectl_ok(&["get", "devsim", "-n", NS])
        );
    }
    // Every device's stream so far is complete (each partition is read up to its end offset
    // now, so each device's prefix).
    let (code, report, stderr) = verify_topic(e, &["--max-missing", "0"]);
    assert_eq!(
        code,
        Some(0),
        "gaps or duplicates after re-sharding:\n{report}\n{stderr}"
    );
    eprintln!(
        "e2e: after 2 -> 3 -> 2, {} messages, 0 duplicates, 0 missing",
        common::report_value(&report, "messages")
    );
}

/// A worker crashes; the kubelet restarts it; its totals continue.
pub async fn worker_crash(e: &mut E2e) {
    let sims = &e.sims;
    let kubelet = e.kubelet.as_ref().expect("the kubelet runs");
    let before = status(sims, "plant").await;
    kubelet.crash(&format!("{NS}/plant-workers-1"));
    eventually(
        "worker 1 restarted and producing",
        Duration::from_secs(40),
        || async {
            let s = status(sims, "plant").await;
            let restarted = !kubelet.log.lock().expect("lock").restarted.is_empty();
            let shard = s.shards.iter().find(|e| e.index == 1)?;
            (restarted
                && shard.messages_per_second > 0.0
                && s.totals.messages_sent > before.totals.messages_sent
                && rate_ok(s.messages_per_second, INTERVAL_MS))
            .then_some(())
        },
    )
    .await;
    eprintln!("e2e: worker 1 crashed and recovered");
}

/// The leading operator stops mid-run: the standby takes the lease over and carries on; no
/// second StatefulSet, totals continue.
pub async fn operator_failover(e: &mut E2e) {
    assert_eq!(
        lease_holder(&e.cluster),
        "operator-a",
        "the standby must not have taken the lease"
    );
    e.operator
        .as_mut()
        .expect("operator-a runs")
        .terminate(Duration::from_secs(10));
    let sims = &e.sims;
    let before = status(sims, "plant").await;
    e2e_support::wait_until(
        "operator-b took the lease over",
        Duration::from_secs(30),
        || lease_holder(&e.cluster) == "operator-b",
    );
    eventually(
        "totals continue after the operator restart",
        Duration::from_secs(40),
        || async {
            let s = status(sims, "plant").await;
            (s.totals.messages_sent > before.totals.messages_sent + u64::from(DEVICES)
                && s.phase == Some(Phase::Running))
            .then_some(())
        },
    )
    .await;
    // Other phases' simulations may still own StatefulSets of their own: count plant's.
    let plant_sets = e
        .sets
        .list(&ListParams::default().labels("devsim.io/simulation=plant"))
        .await
        .expect("list StatefulSets");
    assert_eq!(
        plant_sets.items.len(),
        1,
        "exactly one StatefulSet for plant"
    );
    eprintln!("e2e: operator-a stopped, operator-b took the lease over, totals continue");
}

/// Pause (totals kept), resume, and edit the interval in place (500ms -> 250ms -> 1s).
pub async fn pause_resume_interval(e: &mut E2e) {
    let sims = &e.sims;
    let before = status(sims, "plant").await;
    patch_spec(&e.cluster, "plant", r#"{"spec":{"paused":true}}"#);
    let paused = eventually("Paused, workers at 0", Duration::from_secs(40), || async {
        let s = status(sims, "plant").await;
        (s.phase == Some(Phase::Paused) && s.replicas == 0).then_some(s)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = status(sims, "plant").await;
    assert!(
        still.totals.messages_sent >= paused.totals.messages_sent
            && paused.totals.messages_sent >= before.totals.messages_sent,
        "totals lost on pause"
    );
    eprintln!(
        "e2e: paused with {} messages sent",
        paused.totals.messages_sent
    );
    patch_spec(&e.cluster, "plant", r#"{"spec":{"paused":false}}"#);
    eventually(
        "Running again after resume",
        Duration::from_secs(40),
        || async {
            let s = status(sims, "plant").await;
            (s.phase == Some(Phase::Running)
                && s.totals.messages_sent > paused.totals.messages_sent
                && rate_ok(s.messages_per_second, INTERVAL_MS))
            .then_some(())
        },
    )
    .await;
    // Shortening, then lengthening the interval: each new epoch's sequence numbers follow the
    // old ones, and the rate follows the interval.
    for (interval, interval_ms) in [("250ms", 250u64), ("1s", 1000)] {
        patch_spec(
            &e.cluster,
            "plant",
            &format!(r#"{{"spec":{{"interval":"{interval}"}}}}"#),
        );
        eventually(
            &format!("the rate of interval {interval}"),
            Duration::from_secs(40),
            || async {
                let s = status(sims, "plant").await;
                rate_ok(s.messages_per_second, interval_ms).then_some(())
            },
        )
        .await;
    }
    eprintln!(
        "e2e: paused, resumed, interval edited in place (500ms -> 250ms -> 1s):\n{}",
        e.cluster.kubectl_ok(&["get", "devsim", "-n", NS])
    );
}
