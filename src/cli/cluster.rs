//! `devsim operator` and `devsim worker`: the in-cluster commands.

use std::time::Duration;

use clap::Args;

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::crd::parse_duration;
use crate::operator::{self, OperatorConfig, build::BuildConfig};
use crate::shutdown::Shutdown;
use crate::worker::{self, WorkerConfig};

/// Flags of `devsim operator`.
#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "DEVSIM_WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Image of the worker pods (normally the operator's own image).
    #[arg(long, env = "DEVSIM_WORKER_IMAGE", default_value = "devsim:latest")]
    pub worker_image: String,
    /// Pull policy of the worker image.
    #[arg(
        long,
        env = "DEVSIM_WORKER_IMAGE_PULL_POLICY",
        default_value = "IfNotPresent",
        value_parser = ["Always", "IfNotPresent", "Never"]
    )]
    pub worker_image_pull_policy: String,
    /// Resources of worker containers whose simulation sets no `spec.workerResources`, as a
    /// Kubernetes ResourceRequirements in JSON (`{"requests":{"cpu":"250m"}}`).
    #[arg(long, env = "DEVSIM_WORKER_RESOURCES")]
    pub worker_resources: Option<String>,
    /// Security context of worker containers, as a Kubernetes SecurityContext in JSON
    /// (default: restricted, read-only root filesystem).
    #[arg(long, env = "DEVSIM_WORKER_SECURITY_CONTEXT")]
    pub worker_security_context: Option<String>,
    /// Security context of worker pods, as a Kubernetes PodSecurityContext in JSON (default:
    /// non-root user 65532, seccomp RuntimeDefault).
    #[arg(long, env = "DEVSIM_WORKER_POD_SECURITY_CONTEXT")]
    pub worker_pod_security_context: Option<String>,
    /// Environment variables of every worker container, before a simulation's own
    /// `spec.workerTemplate.env`, as a JSON list of Kubernetes EnvVar
    /// (`[{"name":"HTTPS_PROXY","value":"http://proxy:3128"}]`).
    #[arg(long, env = "DEVSIM_WORKER_ENV")]
    pub worker_env: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8080", value_parser = super::socket_address)]
    pub metrics_addr: std::net::SocketAddr,
    /// Hold a Lease before reconciling, so that only one of several replicas acts.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Namespace of the Lease (default: the pod's namespace, else "default").
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// This replica's identity in the Lease (default: the pod name, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

/// Flags of `devsim worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Name of the DeviceSimulation this worker belongs to.
    #[arg(long)]
    pub simulation: String,
    /// This pod's name (from the downward API); its ordinal is the shard index.
    #[arg(long, env = "POD_NAME")]
    pub pod_name: String,
    /// This pod's namespace (from the downward API).
    #[arg(long, env = "POD_NAMESPACE")]
    pub namespace: String,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:9400", value_parser = super::socket_address)]
    pub metrics_addr: std::net::SocketAddr,
    /// How often the worker reports its figures into the status.
    #[arg(long, default_value = "5s")]
    pub report_every: String,
    /// How long a re-shard waits for every shard to confirm before taking devices over anyway.
    #[arg(long, default_value = "30s")]
    pub handoff_timeout: String,
}

async fn client() -> Result<kube::Client, u8> {
    kube::Client::try_default().await.map_err(|e| {
        eprintln!("error: cannot reach the Kubernetes API (in-cluster config or KUBECONFIG): {e}");
        EXIT_FAILED
    })
}

/// Reads a worker default given as a Kubernetes object in JSON, naming the flag, the path of
/// a field of the wrong type, and any field the object does not have (a misspelt key would
/// otherwise be dropped without a word).
fn parse_object<T: serde::de::DeserializeOwned>(flag: &str, text: &str) -> Result<T, String> {
    let mut unknown = Vec::new();
    let mut record_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let mut json = serde_json::Deserializer::from_str(text);
    let tracked = serde_ignored::Deserializer::new(&mut json, &mut record_unknown);
    let value: T = serde_path_to_error::deserialize(tracked).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        format!("--{flag}: {at}{}", e.inner())
    })?;
    match unknown.first() {
        Some(field) => Err(format!(
            "--{flag}: unknown field `{field}` (the value is a Kubernetes object in JSON, with the API's camelCase field names)"
        )),
        None => Ok(value),
    }
}

/// The worker defaults of the flags, or the first flag that is wrong.
fn build_config(args: &OperatorArgs) -> Result<BuildConfig, String> {
    let mut build = BuildConfig::new(&args.worker_image, &args.worker_image_pull_policy);
    if let Some(text) = &args.worker_resources {
        let resources = parse_object("worker-resources", text)?;
        if let Some((field, message)) =
            crate::config::validate::resource_problems("--worker-resources", &resources)
                .into_iter()
                .next()
        {
            return Err(format!("{field}: {message}"));
        }
        build.worker_resources = Some(resources);
    }
    if let Some(text) = &args.worker_security_context {
        build.worker_security_context = parse_object("worker-security-context", text)?;
    }
    if let Some(text) = &args.worker_pod_security_context {
        build.worker_pod_security_context = parse_object("worker-pod-security-context", text)?;
    }
    if let Some(text) = &args.worker_env {
        build.worker_env = parse_object("worker-env", text)?;
        if let Some(reserved) = build
            .worker_env
            .iter()
            .find(|v: &&k8s_openapi::api::core::v1::EnvVar| crate::crd::is_operator_env(&v.name))
        {
            return Err(format!(
                "--worker-env: {} is set by the operator (the worker's shard, or a secret of spec.kafka.security) and cannot be overridden",
                reserved.name
            ));
        }
    }
    Ok(build)
}

pub(super) async fn run_operator(args: OperatorArgs, shutdown: Shutdown) -> u8 {
    let build = match build_config(&args) {
        Ok(build) => build,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_INVALID;
        }
    };
    let client = match client().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let identity = args
        .identity
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("devsim-operator-{}", std::process::id()));
    let config = OperatorConfig {
        namespace: args.namespace,
        build,
        metrics_addr: args.metrics_addr,
        leader_lease: args.leader_election.then(|| {
            (
                args.lease_namespace.unwrap_or_else(|| "default".into()),
                "devsim-operator".to_owned(),
            )
        }),
        identity,
    };
    exit_code(operator::run(client, config, shutdown).await)
}

pub(super) async fn run_worker(args: WorkerArgs, shutdown: Shutdown) -> u8 {
    if crate::worker::reshard::ordinal(&args.pod_name).is_none() {
        eprintln!(
            "error: --pod-name {:?}: expected a StatefulSet pod's name, ending in -<ordinal> (the shard index), such as plant-workers-0",
            args.pod_name
        );
        return EXIT_INVALID;
    }
    let (report_every, handoff_timeout) = match (
        parse_duration(&args.report_every),
        parse_duration(&args.handoff_timeout),
    ) {
        (Ok(r), Ok(h)) if r >= Duration::from_millis(100) => (r, h),
        (Ok(_), Ok(_)) => {
            eprintln!("error: --report-every: must be at least 100ms");
            return EXIT_INVALID;
        }
        (Err(e), _) => {
            eprintln!("error: --report-every: {e}");
            return EXIT_INVALID;
        }
        (_, Err(e)) => {
            eprintln!("error: --handoff-timeout: {e}");
            return EXIT_INVALID;
        }
    };
    let client = match client().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let config = WorkerConfig {
        simulation: args.simulation,
        namespace: args.namespace,
        pod_name: args.pod_name,
        metrics_addr: args.metrics_addr,
        report_every,
        handoff_timeout,
    };
    exit_code(worker::run(client, config, shutdown).await)
}

fn exit_code(result: anyhow::Result<()>) -> u8 {
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ResourceRequirements, SecurityContext};

    use super::{OperatorArgs, build_config, parse_object};
    use clap::Parser;

    /// The operator's flags as a command line would give them.
    fn operator_args(flags: &[&str]) -> OperatorArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: OperatorArgs,
        }
        Cli::parse_from(std::iter::once("operator").chain(flags.iter().copied())).args
    }

    #[test]
    fn worker_env_is_added_unless_it_takes_the_operators_own_variables() {
        let build = build_config(&operator_args(&[
            "--worker-env",
            r#"[{"name":"KUBERNETES_SERVICE_HOST","value":"10.0.0.1"}]"#,
        ]))
        .expect("valid");
        assert_eq!(build.worker_env[0].value.as_deref(), Some("10.0.0.1"));
        let refused = build_config(&operator_args(&[
            "--worker-env",
            r#"[{"name":"POD_NAME","value":"x"}]"#,
        ]))
        .expect_err("POD_NAME is the operator's");
        assert!(
            refused.starts_with("--worker-env: POD_NAME is set by the operator"),
            "{refused}"
        );
    }

    #[test]
    fn worker_defaults_name_the_flag_and_the_field_that_is_wrong() {
        let resources: ResourceRequirements =
            parse_object("worker-resources", r#"{"requests":{"cpu":"250m"}}"#).expect("valid");
        assert_eq!(resources.requests.expect("requests")["cpu"].0, "250m");

        let wrong_type =
            parse_object::<SecurityContext>("worker-security-context", r#"{"runAsUser":"nobody"}"#)
                .expect_err("a string user id");
        assert!(
            wrong_type.starts_with("--worker-security-context: runAsUser: invalid type"),
            "{wrong_type}"
        );
        let misspelt =
            parse_object::<SecurityContext>("worker-security-context", r#"{"runAsUsr":1000}"#)
                .expect_err("a misspelt key");
        assert!(misspelt.contains("unknown field `runAsUsr`"), "{misspelt}");
        let not_json = parse_object::<ResourceRequirements>("worker-resources", "cpu: 1")
            .expect_err("YAML, not JSON");
        assert!(not_json.starts_with("--worker-resources: "), "{not_json}");
    }
}
