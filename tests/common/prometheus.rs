//! A real Prometheus (Debian's package, unpacked by tests/env/prometheus.sh) on 127.0.0.1, on a
//! port chosen at run time, scraping every second, killed when dropped (and after 15 minutes
//! whatever happens, so a killed test leaves nothing running for long).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The folder holding `prometheus` and `promtool`, installing them the first time.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let output = Command::new("bash")
            .arg(super::tools::repo().join("tests/env/prometheus.sh"))
            .output()
            .expect("run tests/env/prometheus.sh");
        assert!(
            output.status.success(),
            "tests/env/prometheus.sh failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

/// Runs promtool with `args` in `dir`; returns whether it succeeded and all it printed.
pub fn promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(bin().join("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// `127.0.0.1:port` of its web API.
    pub addr: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`, job `devsim`) every second and
    /// evaluating `rule_files` every second; returns once it is ready.
    pub fn start(targets: &[String], rule_files: &[PathBuf]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = serde_json::json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": rule_files,
            "scrape_configs": [{
                "job_name": "devsim",
                "static_configs": [{"targets": targets}],
            }],
        });
        // JSON is YAML: no YAML writer needed.
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config.to_string()).expect("write the configuration");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new("timeout")
            .args(["--signal=KILL", "900"])
            .arg(bin().join("prometheus"))
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Self { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if prometheus
                .get("/-/ready")
                .is_some_and(|(status, _)| status == 200)
            {
                return prometheus;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("prometheus was not ready in 30 s:\n{}", prometheus.log());
    }

    /// What Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` on the web API: (status, body), or `None` if it does not answer.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(&self.addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok()?;
        // HTTP/1.0: the answer comes whole, not chunked, and the connection closes after it.
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.split_whitespace().nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_owned();
        Some((status, body))
    }

    /// The `data` of an API answer at `path`; panics on an error, with Prometheus's message.
    pub fn api(&self, path: &str) -> Value {
        let (status, body) = self
            .get(path)
            .unwrap_or_else(|| panic!("prometheus does not answer {path}"));
        let value: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
        assert!(
            status == 200 && value["status"] == "success",
            "{path}: {status} {body}"
        );
        value["data"].clone()
    }

    /// The result vector of the instant query `expr`, evaluated now.
    pub fn query(&self, expr: &str) -> Vec<Value> {
        let data = self.api(&format!("/api/v1/query?query={}", encode(expr)));
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// The result vector of the instant query `expr`, evaluated at `unix_seconds`.
    pub fn query_at(&self, expr: &str, unix_seconds: f64) -> Vec<Value> {
        let data = self.api(&format!(
            "/api/v1/query?query={}&time={unix_seconds:.3}",
            encode(expr)
        ));
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// The value of the single-series result of `expr`, if it has exactly one.
    pub fn scalar(&self, expr: &str) -> Option<f64> {
        match self.query(expr).as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Polls `check` every 500 ms until it gives `Some`, or panics after `timeout` saying
    /// what was awaited.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check(self) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {what}; prometheus log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // SIGTERM to `timeout`, which passes it on to Prometheus (a SIGKILL would orphan it).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Percent-encodes `text` for a URL's query string.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The chart's alert rule file.
pub fn rules_file() -> PathBuf {
    super::tools::repo().join("charts/devsim/files/prometheus-rules.yaml")
}

/// Every query of the chart's dashboard: (panel title, expression).
pub fn dashboard_queries() -> Vec<(String, String)> {
    let path = super::tools::repo().join("charts/devsim/files/grafana-dashboard.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read the dashboard"))
            .expect("the dashboard is JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            queries.push((
                panel["title"].as_str().unwrap_or_default().to_owned(),
                target["expr"].as_str().expect("an expression").to_owned(),
            ));
        }
    }
    queries
}

/// A dashboard query as Grafana sends it with `namespace` and `simulation` chosen (regular
/// expressions, as its variables are), every shard, and a rate window of five scrapes.
pub fn as_grafana_sends(expr: &str, namespace: &str, simulation: &str) -> String {
    expr.replace("$__rate_interval", "5s")
        .replace("$namespace", namespace)
        .replace("$simulation", simulation)
        .replace("$shard", ".*")
}

/// The alerting rules Prometheus loaded, after checking that each evaluates without error.
pub fn healthy_rules(prometheus: &Prometheus) -> Vec<Value> {
    let rules: Vec<Value> = prometheus.api("/api/v1/rules")["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect();
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
    rules
}
