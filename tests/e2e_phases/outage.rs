//! Kafka going away under a running simulation and coming back (issue 7, observation 2): its
//! own `devsim broker`, whose brokers are taken down (data kept) while the simulation runs.

use std::time::{Duration, Instant};

use devsim::crd::{DeviceSimulationStatus, Phase};

use super::{DEVICES, E2e, INTERVAL_MS, NS, events_of, rate_ok, simulation, status};
use crate::common;
use crate::e2e_support::eventually;

/// How long the brokers stay down once the outage is reported.
const HELD_DOWN: Duration = Duration::from_secs(25);

fn degraded(s: &DeviceSimulationStatus) -> Option<(&str, &str, &str)> {
    s.conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .map(|c| (c.status.as_str(), c.reason.as_str(), c.message.as_str()))
}

/// Running -> brokers down: within seconds Degraded is True/KafkaUnreachable naming the
/// brokers, the delivered rate is 0, and it stays so for as long as they are down; brokers
/// back: the backlog is delivered, Degraded clears, one event each way, and the topic holds
/// every reading (block: nothing lost).
pub async fn kafka_outage_mid_run(e: &mut E2e) {
    let mut broker = common::BrokerProcess::start("e2e-outage", 12);
    let yaml = simulation("outage", &broker.bootstrap, "")
        .replace("replicas: 2", "replicas: 1")
        .replace("topic: e2e", "topic: e2e-outage");
    let (ok, text) = e.cluster.apply(&yaml);
    assert!(ok, "outage simulation refused:\n{text}");
    let sims = &e.sims;
    eventually(
        "the outage simulation running at full rate",
        Duration::from_secs(60),
        || async {
            let s = status(sims, "outage").await;
            (s.phase == Some(Phase::Running) && rate_ok(s.messages_per_second, INTERVAL_MS))
                .then_some(())
        },
    )
    .await;

    broker.set_brokers_up(false);
    let down_at = Instant::now();
    let message = eventually(
        "Degraded True/KafkaUnreachable with no delivered rate",
        Duration::from_secs(30),
        || async {
            let s = status(sims, "outage").await;
            let (state, reason, message) = degraded(&s)?;
            (state == "True"
                && reason == "KafkaUnreachable"
                && message.contains(&broker.bootstrap)
                && s.messages_per_second == 0.0
                && s.phase == Some(Phase::Running))
            .then(|| message.to_owned())
        },
    )
    .await;
    let reported_after = down_at.elapsed();
    eprintln!("e2e: outage reported after {reported_after:?}: {message}");

    // Held: every look in the next HELD_DOWN says the same; the readings wait in the buffer
    // (400 msg/s fill the default 32 MiB in about two minutes; kafka_outage.rs fills it).
    let mut buffered = 0;
    let held_until = Instant::now() + HELD_DOWN;
    while Instant::now() < held_until {
        let s = status(sims, "outage").await;
        let (state, reason, _) = degraded(&s).expect("a Degraded condition");
        assert_eq!(
            (state, reason),
            ("True", "KafkaUnreachable"),
            "Degraded must hold while the brokers are down"
        );
        let shard = s.shards.first().expect("the shard's entry");
        assert!(
            shard.messages_per_second == 0.0,
            "delivered rate {} while down",
            shard.messages_per_second
        );
        buffered = shard.buffered_bytes.max(buffered);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let sent_during = status(sims, "outage").await.totals;

    broker.set_brokers_up(true);
    let up_at = Instant::now();
    eventually(
        "delivering at full rate again, Degraded cleared",
        Duration::from_secs(90),
        || async {
            let s = status(sims, "outage").await;
            let (state, _, _) = degraded(&s)?;
            (state == "False" && rate_ok(s.messages_per_second, INTERVAL_MS)).then_some(())
        },
    )
    .await;
    let recovered_after = up_at.elapsed();
    eprintln!(
        "e2e: outage of {:?}: reported after {reported_after:?}, Degraded cleared {recovered_after:?} after the brokers came back; sent {} delivered {} during it",
        up_at.duration_since(down_at),
        sent_during.messages_sent,
        sent_during.messages_delivered,
    );
    let events = events_of(&e.cluster, "outage");
    for reason in ["KafkaUnreachable", "Recovered"] {
        assert!(events.contains(reason), "no {reason} event:\n{events}");
    }

    // Pause, so the topic holds everything produced, then verify: nothing is missing.
    super::patch_spec(&e.cluster, "outage", r#"{"spec":{"paused":true}}"#);
    eventually("outage paused", Duration::from_secs(40), || async {
        let s = status(sims, "outage").await;
        (s.phase == Some(Phase::Paused) && s.replicas == 0).then_some(())
    })
    .await;
    let totals = status(sims, "outage").await.totals;
    let devices = DEVICES.to_string();
    let (code, report, stderr) = common::devsim(&[
        "verify",
        "--brokers",
        &broker.bootstrap,
        "--topic",
        "e2e-outage",
        "--expect-devices",
        &devices,
        "--max-missing",
        "0",
    ]);
    eprintln!("e2e: verify after the outage:\n{report}{stderr}");
    assert!(
        matches!(code, Some(0 | 1)),
        "verify failed:\n{report}\n{stderr}"
    );
    assert_eq!(
        common::report_value(&report, "missing (gaps)"),
        0,
        "{report}"
    );
    // Copies of what was in flight when the connections broke, at most (see kafka_outage.rs).
    assert!(
        common::report_value(&report, "duplicates") <= 500,
        "{report}"
    );
    assert_eq!(
        (totals.messages_failed, totals.messages_dropped),
        (0, 0),
        "{totals:?}"
    );
    assert!(
        (1..=32 << 20).contains(&buffered),
        "{buffered} bytes buffered during the outage"
    );
    e.cluster.kubectl_ok(&["delete", "devsim/outage", "-n", NS]);
}
