//! Worker containers that ended badly, as the kubelet reports them on their pods: a worker
//! killed for exceeding its memory limit cannot report anything itself, so without this the
//! user would see a silent crash loop. An OOM kill within the last [`OOM_HOLD`], or a worker in
//! CrashLoopBackOff, makes Degraded say so, with the remedy.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::conditions::Verdict;

/// How long an OOM kill keeps the simulation Degraded after the container last ended.
pub const OOM_HOLD: SignedDuration = SignedDuration::from_secs(300);

/// How a worker container last ended, and how it is now.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerExit {
    /// The pod's name.
    pub pod: String,
    /// The kubelet's reason for the last end (`OOMKilled`, `Error`, ...).
    pub reason: String,
    /// Its exit code.
    pub exit_code: i32,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// Restarts of the container so far.
    pub restarts: i32,
    /// The container's memory limit, as written (`64Mi`).
    pub memory_limit: Option<String>,
    /// Whether the kubelet is holding the restart back (CrashLoopBackOff).
    pub crash_looping: bool,
    /// The kubelet's words when it cannot even start the container (`reason` is then
    /// [`CONFIG_ERROR`]): a Secret or key that the environment references is missing.
    pub message: Option<String>,
}

/// The kubelet's reason for a container it cannot create from its pod's spec, such as an
/// environment variable whose Secret or key does not exist.
pub const CONFIG_ERROR: &str = "CreateContainerConfigError";

/// The last ends of the worker containers in `pods` (those that ended at all).
pub fn worker_exits<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Vec<WorkerExit> {
    let mut exits = Vec::new();
    for pod in pods {
        let limit = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.iter().find(|c| c.name == "worker"))
            .and_then(|c| c.resources.as_ref()?.limits.as_ref()?.get("memory"))
            .map(|q| q.0.clone());
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref());
        for status in statuses
            .into_iter()
            .flatten()
            .filter(|s| s.name == "worker")
        {
            let waiting = status.state.as_ref().and_then(|s| s.waiting.as_ref());
            if let Some(waiting) = waiting.filter(|w| w.reason.as_deref() == Some(CONFIG_ERROR)) {
                exits.push(WorkerExit {
                    pod: pod.name_any(),
                    reason: CONFIG_ERROR.to_owned(),
                    exit_code: 0,
                    finished_at: None,
                    restarts: status.restart_count,
                    memory_limit: limit.clone(),
                    crash_looping: false,
                    message: waiting.message.clone(),
                });
                continue;
            }
            // The current state when it has ended and not been restarted yet, else the last.
            let ended = status
                .state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .or_else(|| status.last_state.as_ref()?.terminated.as_ref());
            let Some(ended) = ended else { continue };
            let crash_looping = status
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                == Some("CrashLoopBackOff");
            exits.push(WorkerExit {
                pod: pod.name_any(),
                reason: ended.reason.clone().unwrap_or_default(),
                exit_code: ended.exit_code,
                finished_at: ended.finished_at.as_ref().map(|t| t.0),
                restarts: status.restart_count,
                memory_limit: limit.clone(),
                crash_looping,
                message: None,
            });
        }
    }
    exits
}

/// Degraded's verdict for the exits, if any warrants one: workers that cannot start first,
/// then OOM kills (the remedy is the spec's to change), then crash loops.
pub fn exits_verdict(exits: &[WorkerExit], now: Timestamp) -> Option<Verdict> {
    let blocked: Vec<String> = exits
        .iter()
        .filter(|e| e.reason == CONFIG_ERROR)
        .map(|e| {
            format!(
                "{} cannot start: {}",
                e.pod,
                e.message.as_deref().unwrap_or("the kubelet gave no reason")
            )
        })
        .collect();
    if !blocked.is_empty() {
        let secrets = blocked.iter().any(|m| m.contains("ecret"));
        let remedy = if secrets {
            "create the Secret and key that spec.kafka.security names, in the simulation's \
             namespace, or correct the reference"
        } else {
            "correct the worker's environment (spec.workerTemplate.env)"
        };
        return Some(Verdict::yes(
            "WorkerConfigError",
            format!("{}: {remedy}", blocked.join("; ")),
        ));
    }
    let oom: Vec<&WorkerExit> = exits
        .iter()
        .filter(|e| {
            e.reason == "OOMKilled"
                && (e.crash_looping
                    || e.finished_at
                        .is_some_and(|t| now.duration_since(t) <= OOM_HOLD))
        })
        .collect();
    if !oom.is_empty() {
        let pods = oom
            .iter()
            .map(|e| {
                let limit = e.memory_limit.as_deref().unwrap_or("none set");
                format!(
                    "{} was killed for exceeding its memory limit ({limit}; {} restarts)",
                    e.pod, e.restarts
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Some(Verdict::yes(
            "WorkerOOMKilled",
            format!(
                "{pods}: raise spec.workerResources.limits.memory, or give each worker fewer devices (more spec.replicas)"
            ),
        ));
    }
    let looping: Vec<String> = exits
        .iter()
        .filter(|e| e.crash_looping)
        .map(|e| {
            format!(
                "{} keeps exiting ({} exit code {}; {} restarts): see kubectl logs {} --previous",
                e.pod, e.reason, e.exit_code, e.restarts, e.pod
            )
        })
        .collect();
    (!looping.is_empty()).then(|| Verdict::yes("WorkerCrashLooping", looping.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker pod whose container status is `status` (JSON), with a 16Mi limit.
    fn pod(name: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "worker", "resources": {"limits": {"memory": "16Mi"}}}]},
            "status": {"containerStatuses": [status]},
        }))
        .expect("pod")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    const NOW: &str = "2026-11-26T12:10:00Z";

    fn oom_killed(finished: &str, waiting: Option<&str>) -> serde_json::Value {
        let state = match waiting {
            Some(reason) => serde_json::json!({"waiting": {"reason": reason}}),
            None => serde_json::json!({"running": {"startedAt": finished}}),
        };
        serde_json::json!({
            "name": "worker", "image": "devsim", "imageID": "", "ready": false, "restartCount": 3,
            "state": state,
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": finished}},
        })
    }

    #[test]
    fn an_oom_kill_names_the_pod_the_limit_and_the_remedy() {
        let pods = [pod(
            "plant-workers-0",
            oom_killed("2026-11-26T12:09:00Z", Some("CrashLoopBackOff")),
        )];
        let verdict = exits_verdict(&worker_exits(&pods), at(NOW)).expect("degraded");
        assert!(verdict.status);
        assert_eq!(verdict.reason, "WorkerOOMKilled");
        assert_eq!(
            verdict.message,
            "plant-workers-0 was killed for exceeding its memory limit (16Mi; 3 restarts): raise spec.workerResources.limits.memory, or give each worker fewer devices (more spec.replicas)"
        );
    }

    #[test]
    fn an_old_oom_kill_of_a_worker_that_runs_again_is_history() {
        let recent = [pod("w-0", oom_killed("2026-11-26T12:06:00Z", None))];
        assert!(
            exits_verdict(&worker_exits(&recent), at(NOW)).is_some(),
            "4 minutes ago"
        );
        let old = [pod("w-0", oom_killed("2026-11-26T12:04:00Z", None))];
        assert_eq!(
            exits_verdict(&worker_exits(&old), at(NOW)),
            None,
            "6 minutes ago"
        );
        // Still looping: however old its last kill, it is the cause now.
        let looping = [pod(
            "w-0",
            oom_killed("2026-11-26T11:00:00Z", Some("CrashLoopBackOff")),
        )];
        assert_eq!(
            exits_verdict(&worker_exits(&looping), at(NOW)).map(|v| v.reason),
            Some("WorkerOOMKilled".into())
        );
    }

    #[test]
    fn a_worker_the_kubelet_cannot_start_for_a_missing_secret_says_which() {
        let waiting = serde_json::json!({
            "name": "worker", "image": "devsim", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError",
                "message": "couldn't find key password in Secret iot/kafka-user"}},
        });
        let verdict =
            exits_verdict(&worker_exits(&[pod("w-0", waiting)]), at(NOW)).expect("degraded");
        assert!(verdict.status);
        assert_eq!(verdict.reason, "WorkerConfigError");
        assert_eq!(
            verdict.message,
            "w-0 cannot start: couldn't find key password in Secret iot/kafka-user: create the Secret and key that spec.kafka.security names, in the simulation's namespace, or correct the reference"
        );
    }

    #[test]
    fn a_crash_loop_for_another_reason_points_at_the_logs_and_one_kill_is_not_degraded() {
        let crashing = serde_json::json!({
            "name": "worker", "image": "devsim", "imageID": "", "ready": false, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": NOW}},
        });
        let verdict =
            exits_verdict(&worker_exits(&[pod("w-1", crashing)]), at(NOW)).expect("degraded");
        assert_eq!(verdict.reason, "WorkerCrashLooping");
        assert!(
            verdict.message.contains("see kubectl logs w-1 --previous"),
            "{}",
            verdict.message
        );
        // A worker killed once from outside and restarted: the pod's restart count says so.
        let killed_once = serde_json::json!({
            "name": "worker", "image": "devsim", "imageID": "", "ready": true, "restartCount": 1,
            "state": {"running": {"startedAt": NOW}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 137, "finishedAt": NOW}},
        });
        assert_eq!(
            exits_verdict(&worker_exits(&[pod("w-1", killed_once)]), at(NOW)),
            None
        );
        let healthy = serde_json::json!({
            "name": "worker", "image": "devsim", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {"startedAt": NOW}},
        });
        assert!(worker_exits(&[pod("w-2", healthy)]).is_empty());
    }
}
