//! `devsim operator`: the kube-runtime Controller that turns each DeviceSimulation into a
//! StatefulSet of sharded workers and a headless Service, and reports status back into it.
//!
//! Pipeline per reconcile (see [`reconcile`]): dereference -> validate -> decide (pure) ->
//! prune -> apply -> status -> events.

pub mod access;
pub mod build;
pub mod error;
#[cfg(test)]
mod fixtures;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod retry;
mod secret_env;
pub mod status;
mod template;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::crd::DeviceSimulation;
use crate::shutdown::Shutdown;
use build::BuildConfig;
use error::Error;
pub use metrics::OperatorMetrics;

/// Labels of every worker pod the operator creates.
const WORKER_POD_SELECTOR: &str =
    "app.kubernetes.io/name=devsim,app.kubernetes.io/component=worker";

/// Shared by every reconcile.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Who publishes the Kubernetes events about simulations.
    pub reporter: Reporter,
    /// Reconcile counts, errors and durations.
    pub metrics: Arc<OperatorMetrics>,
    /// How worker pods are built.
    pub build: BuildConfig,
    /// Consecutive failures per simulation, for the backoff of [`error_policy`].
    pub failures: retry::FailureCounts,
    /// The worker pods, as the kubelet reports them (how their containers last ended).
    pub worker_pods: reflector::Store<Pod>,
}

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// Watch only this namespace; all namespaces when unset.
    pub namespace: Option<String>,
    /// Worker pods.
    pub build: BuildConfig,
    /// Admin endpoints.
    pub metrics_addr: std::net::SocketAddr,
    /// Lease to hold before reconciling (namespace, name); None disables leader election.
    pub leader_lease: Option<(String, String)>,
    /// This replica's identity (its pod name).
    pub identity: String,
}

/// Tries a failed reconcile again by the error's category (see [`retry`]): a conflict at once,
/// anything that may pass with exponential backoff, a broken object only when it changes.
fn error_policy(sim: Arc<DeviceSimulation>, error: &Error, ctx: Arc<Context>) -> Action {
    let category = error.category();
    let after = retry::retry_after(&ctx.failures, ObjectRef::from_obj(&*sim), category);
    match after {
        Some(delay) => {
            tracing::warn!(%error, category, retry_in = ?delay, "reconcile failed; retrying");
            Action::requeue(delay)
        }
        None => {
            tracing::error!(%error, category, "reconcile failed; waiting for the object to change");
            Action::await_change()
        }
    }
}

/// Returns once the API server answers a version request, trying again every 2 s meanwhile.
async fn wait_for_api_server(client: &Client) {
    loop {
        match client.apiserver_version().await {
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "the Kubernetes API server does not answer yet");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Runs the operator until SIGTERM/Ctrl-C, or until it loses its lease.
pub async fn run(client: Client, config: OperatorConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let metrics = Arc::new(OperatorMetrics::default());
    let bound = crate::metrics::serve(config.metrics_addr, Arc::clone(&metrics)).await?;
    tracing::info!(%bound, "admin endpoints up");

    // Ready once the API server answers, leader or not: a rolling update of the Deployment
    // waits for each new pod to be Ready, and a new pod stands by until the old one hands the
    // lease over, so a readiness tied to the lease would never let the update finish.
    tokio::select! {
        () = wait_for_api_server(&client) => {}
        () = shutdown.requested() => return Ok(()),
    }
    metrics
        .ready
        .store(true, std::sync::atomic::Ordering::Relaxed);

    let mut lost_lease: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        Box::pin(std::future::pending());
    let election = config.leader_lease.as_ref().map(|(namespace, name)| {
        let leases = Api::<Lease>::namespaced(client.clone(), namespace);
        Arc::new(leader::LeaderElection::new(leases, name, &config.identity))
    });
    if let Some(election) = &election {
        // A standby told to stop while waiting for the lease has nothing to drain.
        tokio::select! {
            () = election.acquire() => {}
            () = shutdown.requested() => return Ok(()),
        }
        let holder = Arc::clone(election);
        lost_lease = Box::pin(async move { holder.hold().await });
    }
    metrics.leader.set(1);

    let (sims, sets, pods) = match &config.namespace {
        Some(ns) => (
            Api::<DeviceSimulation>::namespaced(client.clone(), ns),
            Api::<StatefulSet>::namespaced(client.clone(), ns),
            Api::<Pod>::namespaced(client.clone(), ns),
        ),
        None => (
            Api::<DeviceSimulation>::all(client.clone()),
            Api::<StatefulSet>::all(client.clone()),
            Api::<Pod>::all(client.clone()),
        ),
    };
    // Worker pods: a cache the reconciler reads how containers ended from (an OOM-killed
    // worker cannot report it), and a trigger to reconcile their simulation when one changes.
    let worker_pods = watcher::Config::default().labels(WORKER_POD_SELECTOR);
    let (pod_store, pod_writer) = reflector::store();
    let pod_cache = watcher(pods.clone(), worker_pods.clone())
        .default_backoff()
        .reflect(pod_writer)
        .for_each(|_| std::future::ready(()));
    tokio::spawn(pod_cache);
    let reporter = Reporter {
        controller: "devsim-operator".into(),
        instance: Some(config.identity.clone()),
    };
    let context = Arc::new(Context {
        reporter,
        client,
        metrics,
        build: config.build,
        failures: retry::FailureCounts::default(),
        worker_pods: pod_store,
    });
    let controller = Controller::new(sims, watcher::Config::default());
    context.metrics.watch_simulations(controller.store());
    let controller = controller
        .owns(
            sets,
            watcher::Config::default().labels("app.kubernetes.io/name=devsim"),
        )
        .watches(pods, worker_pods, |pod: Pod| {
            let simulation = pod.labels().get(build::SIMULATION_LABEL)?.clone();
            Some(ObjectRef::<DeviceSimulation>::new(&simulation).within(&pod.namespace()?))
        })
        .graceful_shutdown_on(async move { shutdown.requested().await })
        .run(reconcile::reconcile, error_policy, context)
        .for_each(|result| async move {
            match result {
                // A failed list or watch stops every simulation's reconciling until it
                // recovers: a person must see why (for instance a resource that an older CRD's
                // schema admitted and this version cannot read, named in the error).
                Err(controller::Error::QueueError(e)) => {
                    tracing::warn!(error = %e, "cannot list or watch; retrying with backoff")
                }
                Err(e) => tracing::debug!(error = %e, "controller event"),
                Ok(_) => {}
            }
        });
    let outcome = tokio::select! {
        _ = controller => Ok(()),
        _ = &mut lost_lease => Err(anyhow::anyhow!("lost the leader lease; exiting so that a fresh replica can take over")),
    };
    // A clean shutdown hands the lease over at once instead of after it expires.
    if outcome.is_ok()
        && let Some(election) = &election
    {
        election.release().await;
    }
    outcome
}
