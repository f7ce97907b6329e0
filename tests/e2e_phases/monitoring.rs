//! A real Prometheus scrapes the operator and both workers of `plant` as the chart's
//! ServiceMonitor and PodMonitor would: every dashboard query answers for the simulation, the
//! operator's (phase, Degraded) included, per shard, and the alert rules evaluate.

use std::path::Path;
use std::time::Duration;

use super::{E2e, NS};
use crate::common::prometheus::{
    Prometheus, as_grafana_sends, dashboard_queries, healthy_rules, rules_file,
};

/// The admin addresses of `simulation`'s workers now running, from their JSON logs (the
/// latest log of each pod).
fn worker_admin_addrs(logs: &Path, simulation: &str) -> Vec<String> {
    let prefix = format!("worker-{NS}-{simulation}-workers-");
    let mut latest: std::collections::BTreeMap<String, (u128, String)> = Default::default();
    for entry in std::fs::read_dir(logs).expect("the logs folder").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".log"))
        else {
            continue;
        };
        let Some((ordinal, stamp)) = rest.split_once('-') else {
            continue;
        };
        let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let Some(at) = log.find("\"bound\":\"") else {
            continue;
        };
        let addr = log[at + 9..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned();
        let stamp: u128 = stamp.parse().unwrap_or(0);
        if latest.get(ordinal).is_none_or(|(s, _)| *s < stamp) {
            latest.insert(ordinal.to_owned(), (stamp, addr));
        }
    }
    latest.into_values().map(|(_, addr)| addr).collect()
}

pub async fn prometheus_dashboard(e: &mut E2e) {
    let operator = e
        .operator
        .as_ref()
        .and_then(|o| o.admin_addr())
        .expect("the operator's admin address");
    let workers = worker_admin_addrs(&e.logs, "plant");
    assert_eq!(workers.len(), 2, "two shards: {workers:?}");
    let mut targets = workers;
    targets.push(operator);
    // Prometheus's helper blocks (plain sockets, sleeps): off the runtime's threads.
    tokio::task::spawn_blocking(move || scrape_and_ask(&targets))
        .await
        .expect("the Prometheus checks");
}

fn scrape_and_ask(targets: &[String]) {
    let prometheus = Prometheus::start(targets, &[rules_file()]);
    prometheus.wait_for(
        "the operator's phase of plant",
        Duration::from_secs(30),
        |p| {
            p.scalar(&format!(
            "devsim_simulation_phase{{namespace=\"{NS}\",simulation=\"plant\",phase=\"Running\"}}"
        ))
        .filter(|&v| v == 1.0)
        },
    );
    prometheus.wait_for("every target up", Duration::from_secs(30), |p| {
        p.scalar("count(up == 1)")
            .filter(|&n| n == targets.len() as f64)
    });
    // Rates over the dashboard's 5 s window need a few scrapes of every worker.
    std::thread::sleep(Duration::from_secs(6));
    let mut asked = 0;
    for (title, expr) in dashboard_queries() {
        // The harness runs workers as plain processes, with no cgroup memory limit to serve:
        // tests/prometheus.rs asks this query of a run inside a limited cgroup.
        if expr.contains("devsim_memory_limit_bytes") {
            continue;
        }
        let result = prometheus.query(&as_grafana_sends(&expr, NS, "plant"));
        assert!(!result.is_empty(), "panel {title:?}: no result for {expr}");
        asked += 1;
    }
    let phase = prometheus.query(&as_grafana_sends(
        &dashboard_queries()
            .into_iter()
            .find(|(title, _)| title == "Phase")
            .expect("a Phase panel")
            .1,
        NS,
        "plant",
    ));
    assert_eq!(phase.len(), 1, "{phase:?}");
    assert_eq!(phase[0]["metric"]["phase"], "Running", "{phase:?}");
    let shards = prometheus.query(&format!(
        "sum by (shard) (rate(devsim_messages_delivered_total{{namespace=\"{NS}\",simulation=\"plant\"}}[5s]))"
    ));
    assert_eq!(shards.len(), 2, "one series per shard: {shards:?}");
    let rules = healthy_rules(&prometheus);
    assert_eq!(rules.len(), 7);
    eprintln!(
        "e2e: Prometheus scraped the operator and 2 workers; {asked} dashboard queries answered, phase Running, {} rules healthy",
        rules.len()
    );
}
