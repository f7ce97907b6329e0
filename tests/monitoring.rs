//! The monitoring the chart ships: alert rules checked and unit-tested by promtool (every alert
//! both ways), the dashboard and the rules reading only metrics devsim serves, the chart's
//! PrometheusRule, PodMonitor, ServiceMonitor and dashboard ConfigMap, and the README's metrics
//! reference kept equal to the catalog the processes register from.

mod common;

use std::collections::BTreeSet;

use common::tools::{documents, render, repo};
use devsim::metrics::{FAMILIES, catalog};
use serde_json::Value;

const RULES: &str = "charts/devsim/files/prometheus-rules.yaml";
const DASHBOARD: &str = "charts/devsim/files/grafana-dashboard.json";
const RULE_TESTS: &str = "tests/monitoring/alerts.test.yaml";

fn yaml_file(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).expect("read the file");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn alert_names() -> BTreeSet<String> {
    yaml_file(RULES)["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| r["alert"].as_str().expect("an alerting rule").to_owned())
        .collect()
}

/// The metric families an expression reads (histogram series by their family's name).
fn families_read(expr: &str) -> BTreeSet<String> {
    let names = regex::Regex::new(r"\b(devsim|process)_[a-z0-9_]+").expect("regex");
    names
        .find_iter(expr)
        .map(|m| {
            let name = m.as_str();
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|base| FAMILIES.iter().any(|f| f.name == *base))
                .unwrap_or(name)
                .to_owned()
        })
        .collect()
}

#[test]
fn promtool_checks_the_rules_and_every_alert_fires_and_stays_quiet_in_its_unit_tests() {
    let root = repo();
    let (ok, text) = common::prometheus::promtool(root, &["check", "rules", RULES]);
    assert!(ok && text.contains("SUCCESS: 7 rules found"), "{text}");
    let (ok, text) = common::prometheus::promtool(
        &root.join("tests/monitoring"),
        &["test", "rules", "alerts.test.yaml"],
    );
    assert!(ok && text.contains("SUCCESS"), "{text}");
    eprintln!("{text}");

    // Each alert has a case where it fires and one where, at an evaluation of its own, it
    // does not.
    let mut fires = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for case in yaml_file(RULE_TESTS)["tests"].as_array().expect("tests") {
        for check in case["alert_rule_test"].as_array().expect("alert_rule_test") {
            let name = check["alertname"].as_str().expect("alertname").to_owned();
            let expected = check["exp_alerts"].as_array().map_or(0, Vec::len);
            if expected > 0 {
                fires.insert(name);
            } else {
                quiet.insert(name);
            }
        }
    }
    let alerts = alert_names();
    assert_eq!(fires, alerts, "every alert is shown firing");
    assert_eq!(quiet, alerts, "every alert is shown quiet");
    for design in [
        "DevsimErrorRateHigh",
        "DevsimDeliveryLatencyHigh",
        "DevsimMemoryHigh",
        "DevsimProducerQueueDeep",
    ] {
        assert!(alerts.contains(design), "the design's {design}");
    }
}

#[test]
fn every_alert_has_a_for_clause_a_severity_and_a_runbook() {
    for group in yaml_file(RULES)["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = &rule["alert"];
            assert!(rule["for"].as_str().is_some(), "{name}: for");
            assert!(
                matches!(
                    rule["labels"]["severity"].as_str(),
                    Some("warning" | "critical")
                ),
                "{name}: severity"
            );
            for annotation in ["summary", "description", "runbook"] {
                assert!(
                    rule["annotations"][annotation]
                        .as_str()
                        .is_some_and(|t| t.len() > 20),
                    "{name}: {annotation}"
                );
            }
        }
    }
}

#[test]
fn the_dashboard_and_the_rules_read_only_metrics_devsim_serves() {
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(DASHBOARD)).expect("dashboard"))
            .expect("JSON");
    let known: BTreeSet<&str> = FAMILIES.iter().map(|f| f.name).collect();
    let mut read = BTreeSet::new();
    let variables: BTreeSet<String> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .map(|v| v["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        variables,
        ["datasource", "namespace", "shard", "simulation"]
            .map(String::from)
            .into()
    );
    let dollar = regex::Regex::new(r"\$\{?([A-Za-z_]+)").expect("regex");
    for panel in dashboard["panels"].as_array().expect("panels") {
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for used in dollar.captures_iter(expr) {
                let used = &used[1];
                assert!(
                    used == "__rate_interval" || variables.contains(used),
                    "{}: ${used} is not a variable",
                    panel["title"]
                );
            }
            if panel["title"] != "Phase" && panel["title"] != "Degraded" {
                assert!(expr.contains("simulation=~\"$simulation\""), "{expr}");
            }
            read.extend(families_read(expr));
        }
    }
    let rules = std::fs::read_to_string(repo().join(RULES)).expect("rules");
    read.extend(families_read(&rules));
    let unknown: Vec<_> = read
        .iter()
        .filter(|n| !known.contains(n.as_str()))
        .collect();
    assert!(unknown.is_empty(), "read but never served: {unknown:?}");
    // What the design asks the dashboard to show.
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    for needed in [
        "Messages per second",
        "Bytes per second",
        "Delivery latency",
        "Delivery latency p50 / p99",
        "Error rate",
        "Schedule lag p99 and backlog",
        "Delivered msg/s per shard",
        "Producer queue depth",
        "Memory per pod",
        "CPU per pod",
        "Phase",
    ] {
        assert!(titles.contains(&needed), "{needed} missing: {titles:?}");
    }
    let heatmap = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .find(|p| p["type"] == "heatmap")
        .expect("a heatmap");
    assert_eq!(heatmap["targets"][0]["format"], "heatmap");
}

#[test]
fn the_chart_ships_the_rules_and_dashboard_whole_and_monitors_the_pods_the_operator_makes() {
    let defaults = documents(&render("devsim-system", &[]));
    for kind in ["PrometheusRule", "PodMonitor", "ServiceMonitor"] {
        assert!(
            !defaults.iter().any(|d| d["kind"] == kind),
            "{kind} is opt-in"
        );
    }
    assert!(
        !defaults.iter().any(|d| d["kind"] == "ConfigMap"),
        "the dashboard is opt-in"
    );

    let on = documents(&render(
        "devsim-system",
        &[
            "--set",
            "prometheusRule.enabled=true,prometheusRule.labels.release=kps",
            "--set",
            "grafanaDashboard.enabled=true,grafanaDashboard.namespace=grafana",
            "--set",
            "workers.podMonitor.enabled=true,metrics.serviceMonitor.enabled=true",
        ],
    ));
    let find = |kind: &str| {
        on.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let rule = find("PrometheusRule");
    assert_eq!(rule["spec"], yaml_file(RULES), "the rule file, whole");
    assert_eq!(rule["metadata"]["labels"]["release"], "kps");
    let dashboard = find("ConfigMap");
    assert_eq!(dashboard["metadata"]["namespace"], "grafana");
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let shipped: Value =
        serde_json::from_str(dashboard["data"]["devsim.json"].as_str().expect("JSON"))
            .expect("JSON");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(DASHBOARD)).expect("dashboard"))
            .expect("JSON");
    assert_eq!(shipped, file);

    // The PodMonitor selects the pods the operator creates, on their named metrics port.
    let sim: devsim::crd::DeviceSimulation = serde_json::from_value(serde_json::json!({
        "apiVersion": "devsim.io/v1alpha1", "kind": "DeviceSimulation",
        "metadata": {"name": "line-1", "namespace": "plant"},
        "spec": {"devices": 10, "interval": "1s", "kafka": {"topic": "t"}}
    }))
    .expect("a simulation");
    let pod_labels = devsim::operator::build::worker_labels(&sim);
    let monitor = find("PodMonitor");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels")
    {
        assert_eq!(
            pod_labels.get(key).map(String::as_str),
            value.as_str(),
            "{key}"
        );
    }
    assert_eq!(monitor["spec"]["namespaceSelector"]["any"], true);
    assert_eq!(monitor["spec"]["podMetricsEndpoints"][0]["port"], "metrics");
    let service_monitor = find("ServiceMonitor");
    let service = on
        .iter()
        .find(|d| d["kind"] == "Service")
        .expect("the metrics Service");
    assert_eq!(
        service_monitor["spec"]["selector"]["matchLabels"], service["spec"]["selector"],
        "selects the operator's metrics Service by its labels"
    );
    assert_eq!(service_monitor["spec"]["endpoints"][0]["port"], "metrics");
}

#[test]
fn the_readme_metrics_reference_is_the_catalog() {
    common::readme_section_is(
        "<!-- metrics-reference: generated from src/metrics/catalog.rs; tests/monitoring.rs fails when it drifts -->\n",
        "<!-- end of metrics-reference -->",
        &catalog::reference_table(),
        "DEVSIM_BLESS=1 cargo test --test monitoring",
    );
}
