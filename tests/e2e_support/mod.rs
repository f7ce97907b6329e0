//! The end-to-end harness: a real API server and controller-manager (tests/env), the operator
//! and the embedded Kafka as processes, and a stand-in kubelet that runs a `devsim worker`
//! process for each worker Pod and marks the Pod ready.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

mod accounts;
mod kubelet;
mod steps;

pub use accounts::kubeconfig_for;
pub use kubelet::Kubelet;
pub(crate) use steps::phase;
pub use steps::{Step, assert_all_passed, run_steps};

pub const DEVSIM: &str = env!("CARGO_BIN_EXE_devsim");

/// A client with the credentials of the kubeconfig at `path`.
pub async fn client_from(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("client")
}

/// The control plane started by tests/env/start-cluster.sh, or a real node with it
/// (tests/env/start-node.sh); stopped when dropped.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    /// Where the environment scripts put kubectl and the control plane's logs.
    control_plane: PathBuf,
    stop_script: &'static str,
}

impl Cluster {
    /// The control plane alone: the harness plays the kubelet.
    pub fn start() -> Self {
        Self::start_with("start-cluster.sh", "stop-cluster.sh", &[], "")
    }

    /// A real node (containerd, kubelet, scheduler) with these image archives loaded.
    pub fn start_node(images: &[&Path]) -> Self {
        Self::start_with("start-node.sh", "stop-node.sh", images, "cluster")
    }

    fn start_with(
        start_script: &str,
        stop_script: &'static str,
        images: &[&Path],
        control_plane: &str,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/env")
            .join(start_script);
        let output = Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .args(images)
            .output()
            .unwrap_or_else(|e| panic!("run {start_script}: {e}"));
        let control_plane = dir.path().join(control_plane);
        let cluster = |kubeconfig| Self {
            dir,
            kubeconfig,
            control_plane,
            stop_script,
        };
        if !output.status.success() {
            // Dropped here, so the script that stops it runs on what did start.
            drop(cluster(PathBuf::new()));
            panic!(
                "{start_script} failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let kubeconfig = PathBuf::from(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .last()
                .expect("kubeconfig path")
                .trim(),
        );
        cluster(kubeconfig)
    }

    /// A client with the admin token.
    pub async fn client(&self) -> Client {
        client_from(&self.kubeconfig).await
    }

    /// Runs kubectl 1.20 (built with the server, so within the ±1 version skew) against the
    /// cluster; returns (success, stdout + stderr).
    pub fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let output = Command::new(self.control_plane.join("kubectl"))
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .output()
            .expect("run kubectl");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    /// kubectl that must succeed.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.kubectl(args);
        assert!(ok, "kubectl {args:?} failed:\n{text}");
        text
    }

    /// kubectl apply of a YAML document given inline.
    pub fn apply(&self, yaml: &str) -> (bool, String) {
        self.apply_with(yaml, &[])
    }

    /// kubectl apply of a YAML document given inline, with further flags (`--validate=false`
    /// leaves the checking to the API server alone, as server-side GitOps tools do).
    pub fn apply_with(&self, yaml: &str, flags: &[&str]) -> (bool, String) {
        let file = self
            .dir
            .path()
            .join(format!("apply-{}.yaml", std::process::id()));
        std::fs::write(&file, yaml).expect("write manifest");
        let mut args = vec!["apply", "-f", file.to_str().expect("UTF-8")];
        args.extend_from_slice(flags);
        self.kubectl(&args)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep the logs of a failed run for the person reading the failure: the test's own
            // files and the components' logs, not the node's container storage.
            let keep = std::env::temp_dir().join(format!("devsim-e2e-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&keep);
            for entry in std::fs::read_dir(self.dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = entry.file_name();
                if ["containerd", "kubelet", "images", "cni-ipam"]
                    .contains(&name.to_str().unwrap_or(""))
                {
                    continue;
                }
                let _ = Command::new("cp")
                    .arg("-r")
                    .arg(entry.path())
                    .arg(&keep)
                    .status();
            }
            eprintln!("e2e: logs kept in {}", keep.display());
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/env")
            .join(self.stop_script);
        let _ = Command::new("bash")
            .arg(script)
            .arg(self.dir.path())
            .status();
    }
}

/// A long-running devsim process with its log in the cluster directory; killed when dropped.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(args: &[&str], env: &[(&str, &str)], log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(DEVSIM);
        command
            .args(args)
            .stdout(Stdio::from(file.try_clone().expect("log")))
            .stderr(Stdio::from(file));
        for (k, v) in env {
            command.env(k, v);
        }
        Self {
            child: command.spawn().expect("spawn devsim"),
            log,
        }
    }

    /// SIGTERM, then wait up to `grace` before SIGKILL.
    pub fn terminate(&mut self, grace: Duration) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The admin address the process bound (`127.0.0.1:0` picks a port), read from its JSON log
    /// line `"bound":"127.0.0.1:PORT"`; None until it has logged it.
    pub fn admin_addr(&self) -> Option<String> {
        let log = std::fs::read_to_string(&self.log).ok()?;
        let rest = &log[log.find("\"bound\":\"")? + 9..];
        Some(rest[..rest.find('"')?].to_owned())
    }

    /// Whether the process's `/readyz` answers 200, as a kubelet's readiness probe asks.
    pub fn ready(&self) -> bool {
        use std::io::{Read, Write};
        let Some(addr) = self.admin_addr() else {
            return false;
        };
        let Ok(addr) = addr.parse() else {
            return false;
        };
        let Ok(mut stream) =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        if stream
            .write_all(b"GET /readyz HTTP/1.0\r\nHost: worker\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.is_running() {
            self.terminate(Duration::from_secs(5));
        }
    }
}

/// `devsim verify` of `topic` against the simulation in `sim_file`, expecting `devices`
/// devices, with `extra` flags; returns (exit code, report, stderr).
pub fn verify(
    bootstrap: &str,
    topic: &str,
    sim_file: &Path,
    devices: u32,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let devices = devices.to_string();
    let mut args = vec![
        "verify",
        "--brokers",
        bootstrap,
        "--topic",
        topic,
        "-f",
        sim_file.to_str().expect("UTF-8"),
        "--expect-devices",
        &devices,
    ];
    args.extend_from_slice(extra);
    crate::common::devsim(&args)
}

/// The status of the simulation `name` (empty until the operator writes one).
pub async fn status(
    sims: &kube::api::Api<devsim::crd::DeviceSimulation>,
    name: &str,
) -> devsim::crd::DeviceSimulationStatus {
    sims.get(name)
        .await
        .expect("simulation exists")
        .status
        .unwrap_or_default()
}

/// Whether a simulation's status shows `replicas` shards, all confirmed in a split into that
/// many, each with devices, every other entry emptied, and as many workers ready.
pub fn shards_settled(s: &devsim::crd::DeviceSimulationStatus, replicas: u32) -> bool {
    let live: Vec<_> = s.shards.iter().filter(|e| e.index < replicas).collect();
    s.replicas == replicas
        && s.ready_replicas == replicas
        && live.len() == replicas as usize
        && live
            .iter()
            .all(|e| e.shard_count == replicas && e.devices > 0)
        && s.shards
            .iter()
            .all(|e| e.index < replicas || e.devices == 0)
}

/// Polls `check` every 500 ms until it returns Some, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Polls a blocking `check` every 500 ms until true, or panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
