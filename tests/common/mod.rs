//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cutter;
pub mod prometheus;
pub mod relay;
pub mod tansu;
pub mod tls;
pub mod tools;

use devsim::config::{ValidatedSimulation, parse_simulation, validate};

/// Parses and validates a simulation written as YAML, panicking with the error if invalid.
pub fn simulation(yaml: &str) -> ValidatedSimulation {
    let sim = parse_simulation(yaml).unwrap_or_else(|e| panic!("test YAML does not parse: {e}"));
    validate(&sim).unwrap_or_else(|e| panic!("test YAML is invalid: {e}"))
}

/// A minimal simulation header followed by `spec_body` (indented two spaces).
pub fn spec(spec_body: &str) -> String {
    let mut yaml = String::from(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: test\nspec:\n",
    );
    for line in spec_body.lines() {
        yaml.push_str("  ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

/// A `devsim broker` process (embedded Kafka), killed when dropped.
pub struct BrokerProcess {
    child: std::process::Child,
    /// Its bootstrap address.
    pub bootstrap: String,
    _dir: tempfile::TempDir,
}

impl BrokerProcess {
    /// Starts `devsim broker` with `partitions` partitions of `topic` and waits for its address.
    pub fn start(topic: &str, partitions: u32) -> Self {
        Self::start_with(topic, partitions, &[])
    }

    /// As [`Self::start`], with more `devsim broker` flags (`--listen ADDR`, ...).
    pub fn start_with(topic: &str, partitions: u32, flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let address_file = dir.path().join("bootstrap");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_devsim"))
            .args([
                "broker",
                "--topic",
                topic,
                "--partitions",
                &partitions.to_string(),
                "--address-file",
            ])
            .arg(&address_file)
            .args(flags)
            .stdout(std::process::Stdio::null())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("start devsim broker");
        let mut broker = Self {
            child,
            bootstrap: String::new(),
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(address) = std::fs::read_to_string(&address_file) {
                broker.bootstrap = address;
                return broker;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("devsim broker did not write its address within 30 s");
    }

    /// Takes every broker down (an outage: connections closed, new ones refused, data kept) or
    /// brings them back, through the process's standard input.
    pub fn set_brokers_up(&mut self, up: bool) {
        self.order(if up { "up" } else { "down" });
    }

    /// Gives the broker an order on its standard input (`refuse`, `accept`, `slow 200`, ...).
    pub fn order(&mut self, order: &str) {
        use std::io::Write;
        let stdin = self
            .child
            .stdin
            .as_mut()
            .expect("the broker's stdin is piped");
        writeln!(stdin, "{order}").expect("order the broker");
        stdin.flush().expect("order the broker");
    }

    /// The broker process's ID (to freeze it with SIGSTOP, say).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        // SIGKILL ends a stopped (SIGSTOP) process too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the devsim binary with `args`; returns (exit code, stdout, stderr).
pub fn devsim(args: &[&str]) -> (Option<i32>, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_devsim"))
        .args(args)
        .output()
        .expect("run devsim");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The number after `label` in a report line such as `duplicates           0`.
pub fn report_value(report: &str, label: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in report:\n{report}"))
}

/// Reads `devsim run`'s output up to the line `metrics on http://ADDR/metrics`; returns ADDR.
pub fn metrics_address<B: std::io::BufRead>(lines: &mut std::io::Lines<B>) -> String {
    lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("metrics on http://")
                .map(|a| a.trim_end_matches("/metrics").to_owned())
        })
        .expect("devsim prints the metrics address")
}

/// Checks that the part of README.md between the marker lines `start` and `end` is
/// `generated`; with `DEVSIM_BLESS` set, writes it there instead.
pub fn readme_section_is(start: &str, end: &str, generated: &str, bless_with: &str) {
    let path = tools::repo().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let from = readme.find(start).expect("README has the start marker") + start.len();
    let to = readme.find(end).expect("README has the end marker");
    if std::env::var_os("DEVSIM_BLESS").is_some() {
        let updated = format!("{}{generated}{}", &readme[..from], &readme[to..]);
        std::fs::write(path, updated).expect("rewrite README.md");
    } else {
        assert!(
            readme[from..to] == *generated,
            "README.md is out of date between {start:?} and {end:?}: run `{bless_with}`"
        );
    }
}

/// A plain HTTP/1.0 GET; the body of a 200 answer, or None.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr = addr.parse().ok()?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: operator\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.contains(" 200 ").then(|| body.to_owned())
}
