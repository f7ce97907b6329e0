//! Reading a `DeviceSimulation` from YAML, with errors that name the field.

use std::path::Path;

use super::ConfigError;
use crate::crd::{DeviceSimulation, GROUP, VERSION};

/// Largest simulation file read: what etcd stores of one object by default (1.5 MiB). A
/// simulation is a few kilobytes; a bigger file is a mistake (a log, a binary), refused before
/// it is read into memory.
pub const MAX_FILE_BYTES: u64 = 1536 * 1024;

/// Reads and parses a simulation file (the same YAML `kubectl apply` takes).
pub fn load_file(path: &Path) -> Result<DeviceSimulation, ConfigError> {
    use std::io::Read;
    let read_error = |source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::Parse {
            field: "(document)".to_owned(),
            message: format!(
                "{} is larger than {} KiB, the most a Kubernetes object can be; a simulation is a few kilobytes",
                path.display(),
                MAX_FILE_BYTES / 1024
            ),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::Parse {
        field: "(document)".to_owned(),
        message: format!(
            "{} is not UTF-8 text (invalid byte at offset {}); YAML files must be UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ),
    })?;
    parse_simulation(&text)
}

/// Parses one `DeviceSimulation` document. Unknown fields are errors rather than silently
/// ignored, because a misspelt field would otherwise quietly take its default.
pub fn parse_simulation(text: &str) -> Result<DeviceSimulation, ConfigError> {
    let mut unknown = Vec::new();
    let mut record_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    // A field error is kept aside: after it, the YAML reader also complains that the rest of
    // the document was not read, which would hide the error that names the field.
    let mut field_error = None;
    let parsed = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        let ignoring = serde_ignored::Deserializer::new(deserializer, &mut record_unknown);
        match serde_path_to_error::deserialize::<_, DeviceSimulation>(ignoring) {
            Ok(sim) => Ok(Some(sim)),
            Err(err) => {
                field_error = Some(err);
                Ok(None)
            }
        }
    });
    let document_error = |message: String| ConfigError::Parse {
        field: "(document)".to_owned(),
        message,
    };
    let sim = match (field_error, parsed) {
        (Some(err), _) => {
            // A key the reader could not attribute (a duplicate) shows as `?`: name its map.
            let field = match err.path().to_string() {
                p if p == "." || p == "?" => "(document)".to_owned(),
                p => p.strip_suffix(".?").map_or(p.clone(), str::to_owned),
            };
            let message = plain_words(&err.into_inner().to_string());
            return Err(ConfigError::Parse { field, message });
        }
        (None, Ok(Some(sim))) => sim,
        (None, Ok(None)) => return Err(document_error("no DeviceSimulation in it".into())),
        (None, Err(err)) => return Err(document_error(err.to_string())),
    };
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

/// The YAML reader's type errors say what it expected in Rust terms (`invalid u32`); say what
/// the field allows instead, keeping the reader's `at line L, column C`.
fn plain_words(message: &str) -> String {
    const TRANSLATIONS: &[(&str, &str)] = &[
        ("invalid u32", "must be a whole number from 0 to 4294967295"),
        (
            "invalid u64",
            "must be a whole number from 0 to 18446744073709551615",
        ),
        ("invalid floating point", "must be a number"),
        ("invalid boolean", "must be true or false"),
        ("expected sequence start", "must be a list"),
        ("expected mapping start", "must be a map of fields"),
        (
            "expected string scalar",
            "must be a single value, not a list or a map",
        ),
    ];
    // The reader's hint about its options is for programmers, not the person fixing the file.
    let message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    TRANSLATIONS
        .iter()
        .find_map(|(from, to)| message.strip_prefix(from).map(|rest| format!("{to}{rest}")))
        .unwrap_or(message)
}

/// `apiVersion` and `kind`, which the generated type accepts but does not keep.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeHeader {
    api_version: Option<String>,
    kind: Option<String>,
}

fn check_type_header(text: &str) -> Result<(), ConfigError> {
    let header: TypeHeader = serde_saphyr::from_str(text).map_err(|err| ConfigError::Parse {
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
