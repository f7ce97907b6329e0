//! The workers step: what each worker pod asks of the cluster. A quantity the API server would
//! refuse, or a request above its limit, makes the StatefulSet unappliable; a template that
//! overrides the operator's own labels or environment would break its selector or its shard
//! identity. All are invalid specs, reported with the field before anything is applied.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::Validator;
use crate::crd::quantity::parse_quantity;
use crate::crd::{DeviceSimulationSpec, OPERATOR_ENV, OPERATOR_LABELS, is_operator_env};

/// Each resource's value and the text it was written as.
type Amounts = BTreeMap<String, (f64, String)>;

impl Validator {
    pub(super) fn worker_resources(&mut self, s: &DeviceSimulationSpec) {
        if let Some(resources) = &s.worker_resources {
            for (field, message) in resource_problems("spec.workerResources", resources) {
                self.fail(field, message);
            }
        }
    }

    pub(super) fn worker_template(&mut self, s: &DeviceSimulationSpec) {
        let Some(template) = &s.worker_template else {
            return;
        };
        for key in template.labels.keys() {
            if OPERATOR_LABELS.contains(&key.as_str()) {
                self.fail(
                    format!("spec.workerTemplate.labels.{key}"),
                    "is the operator's own label (the workers' selector) and cannot be set"
                        .to_owned(),
                );
            }
        }
        for (i, var) in template.env.iter().enumerate() {
            if var.name.is_empty() {
                self.fail(
                    format!("spec.workerTemplate.env[{i}].name"),
                    "must not be empty".to_owned(),
                );
            } else if OPERATOR_ENV.contains(&var.name.as_str()) {
                self.fail(
                    format!("spec.workerTemplate.env[{i}].name"),
                    format!(
                        "{} is set by the operator (it names the worker's shard) and cannot be overridden",
                        var.name
                    ),
                );
            } else if is_operator_env(&var.name) {
                self.fail(
                    format!("spec.workerTemplate.env[{i}].name"),
                    format!(
                        "{} is set by the operator from the Secrets spec.kafka.security names (a \
                         secret is never written in the resource) and cannot be set here",
                        var.name
                    ),
                );
            }
        }
    }
}

/// What is wrong with worker resources written at `prefix` (a spec field or a flag), as
/// (field, message): quantities that do not parse or are negative, requests above limits.
pub fn resource_problems(prefix: &str, resources: &ResourceRequirements) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut amounts = |kind: &str, map: Option<&BTreeMap<String, Quantity>>| {
        let mut amounts = Amounts::new();
        for (name, Quantity(text)) in map.into_iter().flatten() {
            let field = format!("{prefix}.{kind}.{name}");
            match parse_quantity(text) {
                Ok(value) if value < 0.0 => {
                    problems.push((field, format!("must not be negative, got {text:?}")));
                }
                Ok(value) => {
                    amounts.insert(name.clone(), (value, text.clone()));
                }
                Err(e) => problems.push((field, e.to_string())),
            }
        }
        amounts
    };
    let limits = amounts("limits", resources.limits.as_ref());
    let requests = amounts("requests", resources.requests.as_ref());
    for (name, (request, request_text)) in &requests {
        if let Some((limit, limit_text)) = limits.get(name)
            && request > limit
        {
            problems.push((
                format!("{prefix}.requests.{name}"),
                format!("must not exceed the limit ({limit_text}), got {request_text}"),
            ));
        }
    }
    problems
}
