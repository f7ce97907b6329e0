//! The stand-in kubelet: worker processes for worker Pods, and the Pods' status.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use super::Process;

/// What the stand-in kubelet did, for assertions.
#[derive(Default)]
pub struct KubeletLog {
    pub started: Vec<String>,
    pub restarted: Vec<String>,
    pub stopped: Vec<String>,
}

/// Plays the kubelet for devsim worker Pods: starts a worker process per Pod (restarting it if
/// it dies while the Pod exists) with a token of the Pod's ServiceAccount bound to the Pod (as
/// a kubelet mounts it; no token, no start), marks the Pod Running, and Ready only while the
/// worker's `/readyz` answers 200 (its readiness probe), and SIGTERMs the process when the Pod
/// goes away.
pub struct Kubelet {
    pub workers: Arc<Mutex<HashMap<String, Process>>>,
    pub log: Arc<Mutex<KubeletLog>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Kubelet {
    pub fn start(client: Client, kubeconfig: PathBuf, logs: PathBuf) -> Self {
        let workers: Arc<Mutex<HashMap<String, Process>>> = Arc::default();
        let log: Arc<Mutex<KubeletLog>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (w, l, s) = (Arc::clone(&workers), Arc::clone(&log), Arc::clone(&stop));
        let handle = tokio::spawn(async move {
            let pods: Api<Pod> = Api::all(client);
            let selector = ListParams::default()
                .labels("app.kubernetes.io/name=devsim,app.kubernetes.io/component=worker");
            // Credentials by Pod UID: a Pod recreated under the same name gets a new token.
            let mut credentials: HashMap<String, PathBuf> = HashMap::new();
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(list) = pods.list(&selector).await {
                    for pod in &list.items {
                        let uid = pod.uid().unwrap_or_default();
                        if credentials.contains_key(&uid) {
                            continue;
                        }
                        let account = pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.service_account_name.clone())
                            .unwrap_or_else(|| "default".to_owned());
                        let out = logs.join(format!("kubeconfig-{}-{uid}", pod.name_any()));
                        let namespace = pod.namespace().unwrap_or_default();
                        let client = pods.clone().into_client();
                        match super::kubeconfig_for(
                            &client,
                            &kubeconfig,
                            &namespace,
                            &account,
                            Some(pod),
                            &out,
                        )
                        .await
                        {
                            Ok(path) => {
                                credentials.insert(uid, path);
                            }
                            Err(e) => {
                                eprintln!("e2e kubelet: no token for {}: {e}", pod.name_any())
                            }
                        }
                    }
                    sync_pods(&pods, &list.items, &w, &l, &credentials, &logs).await;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Self {
            workers,
            log,
            stop,
            handle: Some(handle),
        }
    }

    /// SIGKILLs the worker of `pod`, as a crash would; the kubelet restarts it.
    pub fn crash(&self, pod: &str) {
        let mut workers = self.workers.lock().expect("lock");
        let process = workers.get_mut(pod).expect("worker running");
        let _ = process.child.kill();
        let _ = process.child.wait();
    }

    /// Sends `signals` to the worker of `pod`, one after the other, and waits up to `within`
    /// for it to exit, holding the kubelet's loop meanwhile (a StatefulSet never runs two Pods
    /// of one ordinal at once); the kubelet then starts a successor, as a Pod comes back.
    /// Returns the exit code, how long the exit took, and the stopped process (for its log).
    pub fn stop(
        &self,
        pod: &str,
        signals: &[&str],
        within: Duration,
    ) -> (Option<i32>, Duration, Process) {
        let mut workers = self.workers.lock().expect("lock");
        let mut process = workers.remove(pod).expect("worker running");
        let start = std::time::Instant::now();
        for signal in signals {
            let _ = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &process.child.id().to_string()])
                .status();
        }
        while start.elapsed() < within {
            if let Some(status) = process.child.try_wait().expect("wait") {
                return (status.code(), start.elapsed(), process);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the worker of {pod} did not exit within {within:?}");
    }

    pub async fn shutdown(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        let mut workers = std::mem::take(&mut *self.workers.lock().expect("lock"));
        for p in workers.values_mut() {
            p.terminate(Duration::from_secs(10));
        }
    }
}

async fn sync_pods(
    pods: &Api<Pod>,
    items: &[Pod],
    workers: &Mutex<HashMap<String, Process>>,
    log: &Mutex<KubeletLog>,
    credentials: &HashMap<String, PathBuf>,
    logs: &Path,
) {
    let live: HashMap<String, &Pod> = items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            (
                format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any()),
                p,
            )
        })
        .collect();
    let mut to_mark = Vec::new();
    {
        let mut running = workers.lock().expect("lock");
        // Pods gone: stop their workers (SIGTERM, as the kubelet does).
        let gone: Vec<String> = running
            .keys()
            .filter(|k| !live.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(mut p) = running.remove(&key) {
                p.terminate(Duration::from_secs(15));
                log.lock().expect("lock").stopped.push(key);
            }
        }
        for (key, pod) in &live {
            let restart = running.get_mut(key).is_some_and(|p| !p.is_running());
            if running.contains_key(key) && !restart {
                continue;
            }
            let Some(kubeconfig) = credentials.get(&pod.uid().unwrap_or_default()) else {
                continue;
            };
            let simulation = pod
                .labels()
                .get("devsim.io/simulation")
                .cloned()
                .unwrap_or_default();
            let (namespace, name) = key.split_once('/').expect("namespace/name");
            let logfile = logs.join(format!(
                "worker-{namespace}-{name}-{}.log",
                chrono_free_stamp()
            ));
            let process = Process::spawn(
                &[
                    "worker",
                    "--simulation",
                    &simulation,
                    "--metrics-addr",
                    "127.0.0.1:0",
                    "--report-every",
                    "1s",
                    "--handoff-timeout",
                    "20s",
                ],
                &[
                    ("POD_NAME", name),
                    ("POD_NAMESPACE", namespace),
                    ("KUBECONFIG", kubeconfig.to_str().expect("UTF-8")),
                    ("RUST_LOG", "info"),
                    // JSON lines, so the harness reads the admin address it bound.
                    ("DEVSIM_LOG_FORMAT", "json"),
                ],
                logfile,
            );
            running.insert(key.clone(), process);
            let mut l = log.lock().expect("lock");
            if restart {
                l.restarted.push(key.clone())
            } else {
                l.started.push(key.clone())
            }
        }
        // The readiness probe: the Pod's Ready condition follows the worker's /readyz.
        for (key, pod) in &live {
            let Some(process) = running.get(key) else {
                continue;
            };
            let ready = process.ready();
            let shown = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status == "True");
            let running_shown =
                pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if ready != shown || !running_shown {
                let (namespace, name) = key.split_once('/').expect("namespace/name");
                to_mark.push((namespace.to_owned(), name.to_owned(), ready));
            }
        }
    }
    for (namespace, name, ready) in to_mark {
        let api: Api<Pod> = Api::namespaced(pods.clone().into_client(), &namespace);
        let ready = if ready { "True" } else { "False" };
        let status = serde_json::json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}});
        let _ = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await;
    }
}

fn chrono_free_stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
