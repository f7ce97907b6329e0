//! The CRD reference in Markdown, generated from the schema the API server enforces: every
//! field of `spec` with its type, default, bounds and description. The README carries it
//! (`devsim crd --reference`); a test fails when the two drift apart.

use std::fmt::Write as _;

use kube::CustomResourceExt;
use serde_json::Value;

use super::DeviceSimulation;

/// The reference table of every `spec` field, one row each, in schema order.
pub fn reference_markdown() -> String {
    let crd = serde_json::to_value(DeviceSimulation::crd()).expect("the CRD serialises");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut out =
        String::from("| Field | Type | Default | Allowed | Description |\n|---|---|---|---|---|\n");
    let required = names(&spec["required"]);
    walk(&mut out, "spec", spec, &required);
    out
}

fn names(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Writes a row for each property of `object`, then the rows of its own object or list-of-
/// object properties under their path.
fn walk(out: &mut String, path: &str, object: &Value, required: &[String]) {
    let Some(properties) = object["properties"].as_object() else {
        return;
    };
    for (name, field) in properties {
        let field_path = format!("{path}.{name}");
        row(out, &field_path, field, required.contains(name));
        if kubernetes_type(&field_path).is_some() {
            continue;
        }
        if field["properties"].is_object() {
            walk(out, &field_path, field, &names(&field["required"]));
        } else if field["items"]["properties"].is_object() {
            let items = &field["items"];
            walk(
                out,
                &format!("{field_path}[]"),
                items,
                &names(&items["required"]),
            );
        }
    }
}

/// Fields of Kubernetes' own types, documented by Kubernetes (`kubectl explain`), not here.
const KUBERNETES_TYPES: [(&str, &str); 5] = [
    ("spec.workerResources", "ResourceRequirements"),
    ("spec.workerTemplate.affinity", "Affinity"),
    ("spec.workerTemplate.tolerations", "list of Toleration"),
    ("spec.workerTemplate.env", "list of EnvVar"),
    (
        "spec.workerTemplate.imagePullSecrets",
        "list of LocalObjectReference",
    ),
];

fn kubernetes_type(path: &str) -> Option<&'static str> {
    KUBERNETES_TYPES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, name)| *name)
}

fn row(out: &mut String, path: &str, field: &Value, required: bool) {
    let mut kind = kubernetes_type(path).map_or_else(|| type_name(field), str::to_owned);
    if required {
        kind.push_str(", required");
    }
    let default = match &field["default"] {
        Value::Null => String::new(),
        Value::Array(items) if items.is_empty() => "`[]`".to_owned(),
        Value::Object(_) | Value::Array(_) => "see fields".to_owned(),
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    };
    let description = field["description"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|");
    let _ = writeln!(
        out,
        "| `{path}` | {kind} | {default} | {} | {description} |",
        allowed(field)
    );
}

fn type_name(field: &Value) -> String {
    match field["type"].as_str() {
        Some("array") => format!("list of {}", type_name(&field["items"])),
        Some("object") if field["additionalProperties"].is_object() => {
            format!("map of {}", type_name(&field["additionalProperties"]))
        }
        Some(t) => t.to_owned(),
        None if field["x-kubernetes-int-or-string"] == true => "integer or string".to_owned(),
        None => "any".to_owned(),
    }
}

/// The schema's own bounds: enum, minimum/maximum, lengths, item counts, pattern.
fn allowed(field: &Value) -> String {
    let number = |v: &Value| {
        v.as_f64().map(|n| {
            if n.fract() == 0.0 {
                format!("{}", n as i64)
            } else {
                format!("{n}")
            }
        })
    };
    let mut parts = Vec::new();
    if let Some(values) = field["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| {
                format!(
                    "`{}`",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect();
        parts.push(values.join(", "));
    }
    let bounds = [
        ("minimum", "maximum", ("", "")),
        ("minLength", "maxLength", ("length ", "")),
        ("minItems", "maxItems", ("", " items")),
    ];
    for (low, high, (before, after)) in bounds {
        let range = match (number(&field[low]), number(&field[high])) {
            (Some(min), Some(max)) => format!("{min} to {max}"),
            (Some(min), None) => format!("≥ {min}"),
            (None, Some(max)) => format!("≤ {max}"),
            (None, None) => continue,
        };
        parts.push(format!("{before}{range}{after}"));
    }
    if let Some(pattern) = field["pattern"].as_str() {
        if pattern == super::DURATION_PATTERN {
            parts.push("a duration (Go syntax)".to_owned());
        } else {
            parts.push(format!("pattern `{}`", pattern.replace('|', "\\|")));
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::reference_markdown;

    fn row<'a>(table: &'a str, field: &str) -> &'a str {
        table
            .lines()
            .find(|l| l.starts_with(&format!("| `{field}` |")))
            .unwrap_or_else(|| panic!("no row for {field}:\n{table}"))
    }

    #[test]
    fn every_field_has_a_row_with_its_type_default_and_bounds() {
        let table = reference_markdown();
        assert_eq!(
            row(&table, "spec.devices"),
            "| `spec.devices` | integer, required |  | 1 to 1000000000 | Number of simulated devices, 1 to 1,000,000,000. Device indices run from 0 to devices-1. |"
        );
        let acks = row(&table, "spec.kafka.acks");
        assert!(
            acks.contains("| string | `all` | `0`, `1`, `all` |"),
            "{acks}"
        );
        let interval = row(&table, "spec.interval");
        assert!(
            interval.contains("`5s` | length ≤ 32; a duration (Go syntax)"),
            "{interval}"
        );
        // Nested lists of objects are walked, Kubernetes' own types are not.
        row(&table, "spec.profiles[].sensors[].type");
        let resources = row(&table, "spec.workerResources");
        assert!(resources.contains("ResourceRequirements"), "{resources}");
        assert!(!table.contains("spec.workerResources.limits"));
        let affinity = row(&table, "spec.workerTemplate.affinity");
        assert!(affinity.contains("| Affinity |"), "{affinity}");
        assert!(!table.contains("spec.workerTemplate.affinity."));
        assert!(!table.contains("spec.workerTemplate.env[]"));
        row(&table, "spec.workerTemplate.hostNetwork");
        // One line per row: no description breaks the table.
        for line in table.lines() {
            assert!(line.starts_with('|') && line.ends_with('|'), "{line}");
        }
    }
}
