//! Helpers shared by the integration tests.
#![allow(dead_code)]

use devsim::config::{ValidatedSimulation, parse_simulation, validate};

/// Parses and validates a simulation written as YAML, panicking with the error if invalid.
pub fn simulation(yaml: &str) -> ValidatedSimulation {
    let sim = parse_simulation(yaml).unwrap_or_else(|e| panic!("test YAML does not parse: {e}"));
    validate(&sim).unwrap_or_else(|e| panic!("test YAML is invalid: {e}"))
}

/// A minimal simulation header followed by `spec_body` (indented two spaces).
pub fn spec(spec_body: &str) -> String {
    let mut yaml = String::from(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: test\nspec:\n",
    );
    for line in spec_body.lines() {
        yaml.push_str("  ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}
