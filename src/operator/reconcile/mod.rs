//! One reconcile of a DeviceSimulation: dereference -> validate -> decide -> prune -> apply ->
//! status -> events. The decisions are pure ([`super::build`], [`super::status`]); this file
//! only does the I/O.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::Context;
use super::access::{role, role_binding, service_account};
use super::build::{service, stateful_set, worker_memory_limit, workers_name};
use super::error::{Error, kube};
use super::status::{Decision, Observed, Severity, Trigger, decide, workers_rejected};
use crate::config::{self, ConfigError, FieldError, ValidatedSimulation};
use crate::crd::{DeviceSimulation, GROUP, VERSION};

/// Field manager of everything the controller applies.
pub const OPERATOR_MANAGER: &str = "devsim-operator";

/// Reconciles one simulation; the root span of everything it does.
#[tracing::instrument(skip_all, fields(simulation = %sim.name_any(), namespace = sim.namespace().as_deref().unwrap_or("")))]
pub async fn reconcile(sim: Arc<DeviceSimulation>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&sim, &ctx).await;
    if result.is_ok() {
        ctx.failures.succeeded(&ObjectRef::from_obj(&*sim));
    }
    ctx.metrics.observe(
        started.elapsed(),
        result.as_ref().err().map(Error::category),
    );
    result
}

async fn reconcile_inner(sim: &DeviceSimulation, ctx: &Context) -> Result<Action, Error> {
    let namespace = sim.namespace().ok_or(Error::MissingNamespace)?;
    let client = ctx.client.clone();
    let sims: Api<DeviceSimulation> = Api::namespaced(client.clone(), &namespace);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let services: Api<Service> = Api::namespaced(client, &namespace);
    let name = sim.name_any();

    // Dereference: what the workers look like now.
    let existing = sets
        .get_opt(&workers_name(sim))
        .await
        .map_err(kube("reading the StatefulSet"))?;
    let mut observed = observe(existing.as_ref());
    observed.worker_exits = worker_exits(&ctx.worker_pods, sim);
    observed.worker_memory_limit = worker_memory_limit(sim, &ctx.build);

    // Validate: checks the schema cannot express. An invalid spec is reported, not retried.
    let validated = validate(sim);
    let decision = decide(
        sim,
        validated.as_ref().map(|v| &v.plan),
        &observed,
        Timestamp::now(),
    );

    // Prune first, alone: the shard entries of pods that are gone move into `retired` in one
    // atomic patch, and the next reconcile sees the result.
    // A failed prune (a worker reported meanwhile) is not fatal: the totals computed below
    // still count the entry exactly once, and the next reconcile prunes it.
    if !decision.prune.is_empty() {
        match prune_shards(&sims, sim, &decision).await {
            Ok(()) => return Ok(Action::requeue(Duration::from_millis(200))),
            Err(e) => tracing::info!(error = %e, "shard entries not pruned this time"),
        }
    }

    // Apply the owned objects (an invalid simulation that never ran gets none). A refusal by
    // the API server (an admission webhook, a limit range, a quota) is reported in the status
    // and as an event before the error goes to the backoff.
    let applied = if validated.is_ok() || existing.is_some() {
        apply_owned(&sets, &services, sim, decision.replicas, ctx).await
    } else {
        Ok(())
    };
    // A refusal is carried past the status write and the events, then returned for the backoff.
    let (decision, refused) = match applied {
        Ok(()) => {
            publish_events(sim, ctx, &decision, Trigger::Workers).await;
            (decision, None)
        }
        Err(e) if e.category() == "rejected" => {
            let reason = match &e {
                Error::Kube {
                    action,
                    source: kube::Error::Api(response),
                } => format!("{action}: {}", response.message),
                other => other.to_string(),
            };
            let decision = workers_rejected(decision, sim, &reason, Timestamp::now());
            (decision, Some(e))
        }
        Err(e) => return Err(e),
    };

    // Status: only written when it changed, so the write's own watch event ends the loop.
    // Written on the condition that the object is the version this decision was made from: a
    // reconcile working from a stale cache (one that has not seen a prune yet) would otherwise
    // put back the `retired` totals from before it, losing the pruned shards' figures. A
    // conflict is retried at once with fresh figures (see `retry`).
    let mut current = sim.status.clone().unwrap_or_default();
    current.shards.clear();
    if current != decision.status {
        let mut body = json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": "DeviceSimulation",
            "status": decision.status,
        });
        if let Some(version) = &sim.metadata.resource_version {
            body["metadata"] = json!({ "resourceVersion": version });
        }
        sims.patch_status(
            &name,
            &PatchParams::apply(OPERATOR_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(kube("writing the status"))?;
    }

    publish_events(sim, ctx, &decision, Trigger::Status).await;
    if let Some(e) = refused {
        return Err(e);
    }
    Ok(decision
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

/// Every rule of the spec, including librdkafka's own check of `spec.kafka.properties` (which
/// `config` cannot make: it knows nothing of librdkafka), so a bad property is an invalid spec
/// reported at once, not a worker error found later.
pub fn validate(sim: &DeviceSimulation) -> Result<ValidatedSimulation, ConfigError> {
    let validated = config::validate(sim)?;
    crate::kafka::check_properties(&validated.kafka).map_err(|message| {
        ConfigError::Invalid(vec![FieldError {
            field: "spec.kafka.properties".to_owned(),
            message,
        }])
    })?;
    Ok(validated)
}

/// Applies, with server-side apply, what the workers need: their ServiceAccount, Role and
/// RoleBinding first (a pod whose account does not exist yet is refused), then their
/// StatefulSet and headless Service.
async fn apply_owned(
    sets: &Api<StatefulSet>,
    services: &Api<Service>,
    sim: &DeviceSimulation,
    replicas: u32,
    ctx: &Context,
) -> Result<(), Error> {
    let namespace = sim.namespace().ok_or(Error::MissingNamespace)?;
    let client = &ctx.client;
    let name = workers_name(sim);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    apply(
        &accounts,
        &name,
        service_account(sim),
        "applying the workers' ServiceAccount",
    )
    .await?;
    let roles: Api<Role> = Api::namespaced(client.clone(), &namespace);
    apply(&roles, &name, role(sim), "applying the workers' Role").await?;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &namespace);
    apply(
        &bindings,
        &name,
        role_binding(sim),
        "applying the workers' RoleBinding",
    )
    .await?;
    apply(
        sets,
        &name,
        stateful_set(sim, replicas, &ctx.build),
        "applying the StatefulSet",
    )
    .await?;
    apply(services, &name, service(sim), "applying the Service").await
}

/// Server-side applies one owned object as the operator's field manager.
async fn apply<K>(api: &Api<K>, name: &str, object: K, action: &'static str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::Serialize,
    K: serde::de::DeserializeOwned,
{
    let params = PatchParams::apply(OPERATOR_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(with_type(object)?))
        .await
        .map_err(kube(action))?;
    Ok(())
}

/// How the simulation's worker containers last ended, from the operator's cache of worker pods.
fn worker_exits(
    pods: &kube::runtime::reflector::Store<k8s_openapi::api::core::v1::Pod>,
    sim: &DeviceSimulation,
) -> Vec<crate::operator::status::exits::WorkerExit> {
    let name = sim.name_any();
    let pods = pods.state();
    let own = pods.iter().filter(|p| {
        p.namespace() == sim.namespace()
            && p.labels().get(crate::operator::build::SIMULATION_LABEL) == Some(&name)
    });
    crate::operator::status::exits::worker_exits(own.map(|p| &**p))
}

fn observe(set: Option<&StatefulSet>) -> Observed {
    let Some(set) = set else {
        return Observed::default();
    };
    let status = set.status.as_ref();
    Observed {
        sts_spec_replicas: set
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .map(|r| r.max(0) as u32),
        sts_replicas: status.map_or(0, |s| s.replicas.max(0) as u32),
        sts_ready_replicas: status
            .and_then(|s| s.ready_replicas)
            .map_or(0, |r| r.max(0) as u32),
        worker_exits: Vec::new(),
        worker_memory_limit: None,
    }
}

/// Serialises a typed object with its apiVersion and kind, as server-side apply requires.
fn with_type<K: Resource<DynamicType = ()> + serde::Serialize>(
    object: K,
) -> Result<serde_json::Value, Error> {
    let mut value = serde_json::to_value(&object).map_err(|source| Error::Serialize {
        what: "an owned object",
        source,
    })?;
    value["apiVersion"] = json!(K::api_version(&()));
    value["kind"] = json!(K::kind(&()));
    Ok(value)
}

/// Removes the entries of shards whose pods are gone and adds their figures to `retired`, in
/// one JSON patch guarded by `test` operations: if a worker changed an entry meanwhile, the
/// whole patch is refused and the next reconcile tries again with fresh figures.
async fn prune_shards(
    sims: &Api<DeviceSimulation>,
    sim: &DeviceSimulation,
    decision: &Decision,
) -> Result<(), Error> {
    let shards = sim
        .status
        .as_ref()
        .map(|s| s.shards.as_slice())
        .unwrap_or_default();
    let mut ops = Vec::new();
    // Remove from the highest position down so earlier positions stay valid.
    for (position, shard) in shards.iter().enumerate().rev() {
        if decision.prune.contains(&shard.index) {
            // Guard on the entry's identity and counters: if its worker reported since we read
            // it, the patch fails and the next reconcile retries with fresh figures.
            let at = format!("/status/shards/{position}");
            ops.push(json!({"op": "test", "path": format!("{at}/index"), "value": shard.index}));
            ops.push(
                json!({"op": "test", "path": format!("{at}/stopped"), "value": shard.stopped}),
            );
            ops.push(
                json!({"op": "test", "path": format!("{at}/updated"), "value": shard.updated}),
            );
            ops.push(json!({"op": "remove", "path": at}));
        }
    }
    ops.push(
        json!({"op": "add", "path": "/status/retired", "value": decision.retired_after_prune}),
    );
    let patch: json_patch::Patch =
        serde_json::from_value(serde_json::Value::Array(ops)).map_err(|source| {
            Error::Serialize {
                what: "the prune patch",
                source,
            }
        })?;
    sims.patch_status(
        &sim.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await
    .map_err(kube("pruning shard entries"))?;
    tracing::info!(shards = ?decision.prune, "pruned the entries of shards that no longer exist");
    Ok(())
}

/// Publishes the decision's events of one trigger (see [`Trigger`] for why they are apart).
async fn publish_events(
    sim: &DeviceSimulation,
    ctx: &Context,
    decision: &Decision,
    trigger: Trigger,
) {
    for t in decision.transitions.iter().filter(|t| t.trigger == trigger) {
        let event = Event {
            type_: match t.severity {
                Severity::Normal => EventType::Normal,
                Severity::Warning => EventType::Warning,
            },
            reason: t.reason.to_owned(),
            note: Some(t.note.chars().take(1000).collect()),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        // A recorder per event: kube-runtime's recorder folds events of the same reason into
        // one series keeping the first note ("shards 2 -> 4" for every later rescale). Each
        // transition here is a distinct event with its own message.
        let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
        if let Err(e) = recorder.publish(&event, &sim.object_ref(&())).await {
            tracing::warn!(error = %e, reason = t.reason, "cannot publish event");
        }
    }
}

#[cfg(test)]
mod tests;
