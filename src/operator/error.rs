//! Errors of a reconcile, each with a fixed category for metric labels and logs.

/// Why a reconcile failed (an invalid spec is not an error: it is reported in the status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was being done.
        action: &'static str,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be serialised for a patch.
    #[error("serialising {what}: {source}")]
    Serialize {
        /// What was being serialised.
        what: &'static str,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The object has no namespace (DeviceSimulation is namespaced, so this is a broken object).
    #[error("the DeviceSimulation has no namespace")]
    MissingNamespace,
}

impl Error {
    /// Fixed category, for the `category` label of `devsim_reconcile_errors_total`.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Kube {
                source: kube::Error::Api(s),
                ..
            } if s.code == 409 => "conflict",
            Self::Kube {
                source: kube::Error::Api(s),
                ..
            } if s.code == 404 => "not_found",
            Self::Kube {
                source: kube::Error::Api(s),
                ..
            } if s.code == 429 || s.code >= 500 => "api_error",
            // Any other 4xx: the API server refused the request (forbidden, invalid object).
            Self::Kube {
                source: kube::Error::Api(_),
                ..
            } => "rejected",
            Self::Kube { .. } => "api_unreachable",
            Self::Serialize { .. } => "serialize",
            Self::MissingNamespace => "invalid_object",
        }
    }
}

/// Wraps a kube error with what was being done.
pub fn kube(action: &'static str) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Kube { action, source }
}
