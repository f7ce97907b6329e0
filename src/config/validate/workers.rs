//! The workers step: what each worker pod asks of the cluster. A quantity the API server would
//! refuse, or a request above its limit, makes the StatefulSet unappliable; both are invalid
//! specs, reported with the field before anything is applied.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::Validator;
use crate::crd::DeviceSimulationSpec;
use crate::crd::quantity::parse_quantity;

/// Each resource's value and the text it was written as.
type Amounts = BTreeMap<String, (f64, String)>;

impl Validator {
    pub(super) fn worker_resources(&mut self, s: &DeviceSimulationSpec) {
        let Some(resources) = &s.worker_resources else {
            return;
        };
        let limits = self.quantities("limits", resources.limits.as_ref());
        let requests = self.quantities("requests", resources.requests.as_ref());
        for (name, (request, request_text)) in &requests {
            if let Some((limit, limit_text)) = limits.get(name)
                && request > limit
            {
                self.fail(
                    format!("spec.workerResources.requests.{name}"),
                    format!("must not exceed the limit ({limit_text}), got {request_text}"),
                );
            }
        }
    }

    fn quantities(&mut self, kind: &str, map: Option<&BTreeMap<String, Quantity>>) -> Amounts {
        let mut amounts = Amounts::new();
        for (name, Quantity(text)) in map.into_iter().flatten() {
            let field = format!("spec.workerResources.{kind}.{name}");
            match parse_quantity(text) {
                Ok(value) if value < 0.0 => {
                    self.fail(field, format!("must not be negative, got {text:?}"));
                }
                Ok(value) => {
                    amounts.insert(name.clone(), (value, text.clone()));
                }
                Err(e) => self.fail(field, e.to_string()),
            }
        }
        amounts
    }
}
