//! The Helm chart, the examples and the Dockerfile, checked with the tools users' CI systems
//! check them with (pinned, installed by tests/env/tools.sh): `helm lint --strict`,
//! `kubernetes-validate --strict`, `check-jsonschema`, `yamllint`, `hadolint`. The chart is
//! installed on a real API server by the e2e test (`chart-install`).

mod common;

use std::collections::BTreeSet;

use kube::CustomResourceExt;
use serde_json::Value;

use common::tools::{documents, render, repo, run, run_ok, stdout_of};

const ALL_FEATURES: &str = "charts/devsim/ci/all-features-values.yaml";
/// The oldest and the newest Kubernetes whose schemas kubernetes-validate carries.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)?["value"]
        .as_str()
}

#[test]
fn chart_lints_strictly_with_defaults_and_with_every_feature_on() {
    run_ok("helm", &["lint", "--strict", "charts/devsim"]);
    run_ok(
        "helm",
        &[
            "lint",
            "--strict",
            "charts/devsim",
            "--values",
            ALL_FEATURES,
        ],
    );
}

#[test]
fn renders_pass_kubernetes_validate_strict_for_the_oldest_and_newest_schemas() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, args) in [
        ("defaults.yaml", vec![]),
        ("all-features.yaml", vec!["--values", ALL_FEATURES]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, render("devsim-system", &args)).expect("write render");
        let path = path.to_str().expect("UTF-8");
        for version in KUBERNETES_VERSIONS {
            let text = run_ok(
                "kubernetes-validate",
                &["--strict", "--kubernetes-version", version, path],
            );
            assert!(
                !text.contains("ERROR") && !text.contains("WARN") && text.contains("passed"),
                "{name} against {version}:\n{text}"
            );
        }
    }
    let text = run_ok(
        "kubernetes-validate",
        &["--strict", "charts/devsim/crds/devicesimulation.yaml"],
    );
    assert!(text.contains("passed"), "{text}");
}

#[test]
fn defaults_install_cluster_wide_and_every_feature_renders_what_it_promises() {
    let defaults = documents(&render("devsim-system", &[]));
    assert_eq!(
        kinds(&defaults),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Lease",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
        .map(str::to_owned)
        .into(),
        "no NetworkPolicy unless asked for"
    );
    let all = documents(&render("devsim-system", &["--values", ALL_FEATURES]));
    assert!(kinds(&all).contains("NetworkPolicy"));
    assert!(
        !kinds(&all).contains("ClusterRole"),
        "watchNamespace: the operator's rights are a Role in that namespace"
    );
    let main_role = all
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == "iot")
        .expect("a Role in the watched namespace");
    assert!(
        main_role["rules"].as_array().is_some_and(|r| r.len() > 3),
        "{main_role}"
    );
    let deployment = find(&all, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example/devsim:0.1.0");
    assert_eq!(env(container, "DEVSIM_WATCH_NAMESPACE"), Some("iot"));
    assert_eq!(
        env(container, "DEVSIM_WORKER_IMAGE"),
        Some("registry.example/devsim-worker:0.1.0")
    );
    let resources: Value = serde_json::from_str(
        env(container, "DEVSIM_WORKER_RESOURCES").expect("worker resources passed on"),
    )
    .expect("JSON");
    assert_eq!(resources["limits"]["memory"], "512Mi");
    let worker_env: Value =
        serde_json::from_str(env(container, "DEVSIM_WORKER_ENV").expect("worker env passed on"))
            .expect("JSON");
    assert_eq!(worker_env[0]["name"], "HTTPS_PROXY");
    assert_eq!(
        env(container, "HTTPS_PROXY"),
        Some("http://proxy.example:3128")
    );
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["priorityClassName"], "platform-critical");
    assert!(
        container["args"]
            .as_array()
            .expect("args")
            .contains(&Value::from("--metrics-addr=0.0.0.0:9090"))
    );
}

#[test]
fn every_pod_the_chart_or_the_operator_runs_is_restricted() {
    for args in [vec![], vec!["--values", ALL_FEATURES]] {
        let docs = documents(&render("devsim-system", &args));
        let pod = &find(&docs, "Deployment")["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let worker_pod: Value = serde_json::from_str(
            env(container, "DEVSIM_WORKER_POD_SECURITY_CONTEXT").expect("passed on"),
        )
        .expect("JSON");
        let worker: Value = serde_json::from_str(
            env(container, "DEVSIM_WORKER_SECURITY_CONTEXT").expect("passed on"),
        )
        .expect("JSON");
        for (what, pod_sc, sc) in [
            (
                "operator",
                &pod["securityContext"],
                &container["securityContext"],
            ),
            ("workers", &worker_pod, &worker),
        ] {
            assert_eq!(pod_sc["runAsNonRoot"], true, "{what}");
            assert_eq!(pod_sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{what}"
            );
        }
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    }
}

#[test]
fn more_than_one_replica_always_elects_a_leader() {
    let args = |docs: Vec<Value>| {
        find(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"].clone()
    };
    let one_without = args(documents(&render(
        "devsim-system",
        &["--set", "leaderElection.enabled=false"],
    )));
    assert!(
        one_without
            .as_array()
            .expect("args")
            .contains(&"--leader-election=false".into())
    );
    let two_without = args(documents(&render(
        "devsim-system",
        &[
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=2",
        ],
    )));
    assert!(
        two_without
            .as_array()
            .expect("args")
            .contains(&"--leader-election=true".into())
    );
}

#[test]
fn the_values_schema_refuses_bad_values_and_names_the_key() {
    for (set, names) in [
        ("replicaCount=two", "/replicaCount"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("logging.levle=debug", "levle"),
        ("logging.format=xml", "/logging/format"),
        ("metrics.port=80", "/metrics/port"),
        (
            "workers.image.pullPolicy=Later",
            "/workers/image/pullPolicy",
        ),
        ("workers.env[0].name=POD_NAME", "/workers/env/0/name"),
        ("hostNetwork=yes", "/hostNetwork"),
    ] {
        let (ok, text) = run(
            "helm",
            &["template", "devsim", "charts/devsim", "--set", set],
        );
        assert!(!ok, "--set {set} accepted");
        assert!(text.contains(names), "--set {set}: {text}");
    }
}

#[test]
fn repository_yaml_and_chart_renders_pass_yamllint() {
    run_ok("yamllint", &["--strict", "."]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("render.yaml");
    std::fs::write(&path, render("devsim-system", &["--values", ALL_FEATURES])).expect("write");
    // Helm's toYaml puts list items level with their key and JSON values on one line: the
    // render is checked for YAML errors and duplicates, not for the hand-written style.
    run_ok(
        "yamllint",
        &[
            "--strict",
            "--config-data",
            "{extends: default, rules: {line-length: disable, document-start: disable, indentation: {indent-sequences: whatever}}}",
            path.to_str().expect("UTF-8"),
        ],
    );
}

/// The CRD's own OpenAPI schema as a JSON Schema file, for check-jsonschema.
fn crd_schema(dir: &std::path::Path) -> String {
    let crd = serde_json::to_value(devsim::crd::DeviceSimulation::crd()).expect("CRD");
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let path = dir.join("devicesimulation.schema.json");
    std::fs::write(&path, serde_json::to_string_pretty(schema).expect("JSON")).expect("write");
    path.to_str().expect("UTF-8").to_owned()
}

#[test]
fn every_example_simulation_is_valid_against_the_crds_own_schema() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let schema = crd_schema(dir.path());
    let examples: Vec<String> = std::fs::read_dir(repo().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("kind: DeviceSimulation")))
        .map(|p| p.to_str().expect("UTF-8").to_owned())
        .collect();
    assert!(examples.len() >= 3, "{examples:?}");
    let mut args = vec!["--schemafile", schema.as_str()];
    args.extend(examples.iter().map(String::as_str));
    run_ok("check-jsonschema", &args);

    // The same check refuses what the API server refuses.
    let broken = dir.path().join("broken.yaml");
    let text = std::fs::read_to_string(&examples[0]).expect("read");
    let devices = text
        .lines()
        .find(|l| l.trim_start().starts_with("devices:"))
        .expect("a devices line");
    std::fs::write(&broken, text.replace(devices, "  devices: 0")).expect("write");
    let (ok, out) = run(
        "check-jsonschema",
        &["--schemafile", &schema, broken.to_str().expect("UTF-8")],
    );
    assert!(!ok && out.contains("devices"), "devices: 0 passed:\n{out}");
}

#[test]
fn dockerfile_passes_hadolint() {
    let text = run_ok("hadolint", &["Dockerfile"]);
    assert!(text.trim().is_empty(), "{text}");
    // The image stage CI builds (image/build.sh) is this file's, not a copy.
    let build = std::fs::read_to_string(repo().join("image/build.sh")).expect("image/build.sh");
    assert!(build.contains("--target runtime") && build.contains("$repo/Dockerfile"));
}

#[test]
fn the_kustomization_is_the_chart_rendered_with_its_crd_and_builds() {
    let committed = std::fs::read_to_string(repo().join("examples/kustomize/devsim.yaml"))
        .expect("examples/kustomize/devsim.yaml");
    let rendered = render("devsim-system", &["--include-crds"]);
    if std::env::var_os("DEVSIM_BLESS").is_some() {
        std::fs::write(repo().join("examples/kustomize/devsim.yaml"), &rendered).expect("bless");
    } else {
        assert!(
            committed == rendered,
            "examples/kustomize/devsim.yaml is not the chart's render: run `DEVSIM_BLESS=1 cargo test --test chart`"
        );
    }
    let built = documents(&stdout_of("kubectl", &["kustomize", "examples/kustomize"]));
    assert_eq!(
        kinds(&built),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "DeviceSimulation",
            "Lease",
            "Namespace",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
        .map(str::to_owned)
        .into()
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let schema = crd_schema(dir.path());
    run_ok(
        "check-jsonschema",
        &[
            "--schemafile",
            &schema,
            "examples/kustomize/simulation.yaml",
        ],
    );
    let text = run_ok(
        "kubernetes-validate",
        &[
            "--strict",
            "examples/kustomize/namespace.yaml",
            "examples/kustomize/devsim.yaml",
        ],
    );
    assert!(!text.contains("ERROR"), "{text}");
}
