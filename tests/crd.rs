//! The checked-in CRD matches the Rust types, and the sample simulation is valid.

mod common;

#[test]
fn checked_in_crd_matches_the_rust_types() {
    let generated = devsim::crd::crd_yaml().expect("the CRD renders");
    let checked_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crds/devicesimulation.yaml"
    ))
    .expect("crds/devicesimulation.yaml exists");
    assert!(
        generated == checked_in,
        "crds/devicesimulation.yaml is out of date: run `cargo run -- crd > crds/devicesimulation.yaml`"
    );
}

#[test]
fn the_charts_crd_is_the_checked_in_crd() {
    let generated = devsim::crd::crd_yaml().expect("the CRD renders");
    let in_chart = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/charts/devsim/crds/devicesimulation.yaml"
    ))
    .expect("charts/devsim/crds/devicesimulation.yaml exists");
    assert!(
        generated == in_chart,
        "charts/devsim/crds/devicesimulation.yaml is out of date: run `cargo run -- crd > charts/devsim/crds/devicesimulation.yaml`"
    );
}

#[test]
fn crd_carries_bounds_enums_and_the_scale_subresource() {
    let crd = devsim::crd::crd_yaml().expect("the CRD renders");
    for needle in [
        "maximum: 10000000",
        "- zstd",
        "specReplicasPath: .spec.replicas",
        "labelSelectorPath: .status.selector",
        "shortNames:\n    - devsim",
        "x-kubernetes-list-map-keys:",
    ] {
        assert!(crd.contains(needle), "CRD lacks {needle:?}");
    }
}

#[test]
fn example_simulations_are_valid() {
    for name in [
        "simulation.yaml",
        "throughput.yaml",
        "design-scenario.yaml",
        "kustomize/simulation.yaml",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let sim = devsim::config::load_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        devsim::config::validate(&sim).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
