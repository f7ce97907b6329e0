//! Reading a `DeviceSimulation` from YAML, with errors that name the field.

use std::path::Path;

use super::ConfigError;
use crate::crd::{DeviceSimulation, GROUP, VERSION};

/// Reads and parses a simulation file (the same YAML `kubectl apply` takes).
pub fn load_file(path: &Path) -> Result<DeviceSimulation, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_simulation(&text)
}

/// Parses one `DeviceSimulation` document. Unknown fields are errors rather than silently
/// ignored, because a misspelt field would otherwise quietly take its default.
pub fn parse_simulation(text: &str) -> Result<DeviceSimulation, ConfigError> {
    let mut unknown = Vec::new();
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let mut record_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignoring = serde_ignored::Deserializer::new(deserializer, &mut record_unknown);
    let sim: DeviceSimulation = serde_path_to_error::deserialize(ignoring).map_err(|err| {
        let field = match err.path().to_string() {
            p if p == "." => "(document)".to_owned(),
            p => p,
        };
        // serde_yaml already prefixes nested errors with the path; say it once.
        let message = err.into_inner().to_string();
        let message = message
            .strip_prefix(&format!("{field}: "))
            .map_or(message.clone(), str::to_owned);
        ConfigError::Parse { field, message }
    })?;
    // `status` is the controller's, metadata carries fields we do not model, and the type
    // header is checked below.
    unknown.retain(|p| {
        !(p.starts_with("metadata.") || p.starts_with("status") || p == "apiVersion" || p == "kind")
    });
    if !unknown.is_empty() {
        return Err(ConfigError::UnknownFields(unknown));
    }
    check_type_header(text)?;
    Ok(sim)
}

/// `apiVersion` and `kind`, which the generated type accepts but does not keep.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeHeader {
    api_version: Option<String>,
    kind: Option<String>,
}

fn check_type_header(text: &str) -> Result<(), ConfigError> {
    let header: TypeHeader = serde_yaml::from_str(text).map_err(|err| ConfigError::Parse {
        field: "(document)".into(),
        message: err.to_string(),
    })?;
    let expected_api = format!("{GROUP}/{VERSION}");
    if header.api_version.as_deref() != Some(expected_api.as_str()) {
        return Err(ConfigError::Parse {
            field: "apiVersion".into(),
            message: format!(
                "must be {expected_api}, got {:?}",
                header.api_version.unwrap_or_default()
            ),
        });
    }
    if header.kind.as_deref() != Some("DeviceSimulation") {
        return Err(ConfigError::Parse {
            field: "kind".into(),
            message: format!(
                "must be DeviceSimulation, got {:?}",
                header.kind.unwrap_or_default()
            ),
        });
    }
    Ok(())
}
