//! From a simulation file or custom resource to a validated plan: load, then validate.

pub mod load;
pub mod validate;

pub use load::{load_file, parse_simulation};
pub use validate::{FieldError, ValidatedSimulation, validate};

/// Why a simulation could not be loaded or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The YAML is malformed, or a field has the wrong type or an unknown value.
    #[error("{field}: {message}")]
    Parse {
        /// Dotted path of the offending field (`.` for the document itself).
        field: String,
        /// What was wrong and what is allowed.
        message: String,
    },
    /// Fields the DeviceSimulation type does not have (typos).
    #[error("{}", unknown_fields_message(.0))]
    UnknownFields(Vec<String>),
    /// The document parsed but breaks one or more rules.
    #[error("{}", field_errors_message(.0))]
    Invalid(Vec<FieldError>),
}

impl ConfigError {
    /// Fixed category for metric labels and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::Parse { .. } => "parse",
            Self::UnknownFields(_) => "unknown_field",
            Self::Invalid(_) => "invalid_spec",
        }
    }
}

fn unknown_fields_message(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("{f}: unknown field (check its spelling against `devsim crd` or `kubectl explain devicesimulation.spec`)"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn field_errors_message(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
