//! A real Prometheus (Debian's package) scrapes `devsim run --metrics-addr` every second and
//! evaluates the chart's alert rules: every dashboard query answers, the delivered rate it
//! computes agrees with the run's own within 5 %, the heatmap's query gives ordered buckets,
//! the rules load and stay quiet on a healthy run, and the error-rate alert goes pending when
//! the brokers (a `devsim broker` process) refuse every produce request.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::prometheus::{
    Prometheus, as_grafana_sends, dashboard_queries, healthy_rules, rules_file,
};
use devsim::metrics::{FAMILIES, Served};

/// 200 devices every 100 ms: 2,000 readings a second.
const SCHEDULED_RATE: f64 = 2_000.0;

/// A memory cgroup with a 1 GiB limit that the run joins, so that the memory-limit gauge and
/// the memory alert see what a container sees. Removed when dropped (after the run ended).
struct MemoryCgroup {
    dir: PathBuf,
}

impl MemoryCgroup {
    const LIMIT: u64 = 1 << 30;

    fn create() -> Self {
        let name = format!("devsim-test-{}", std::process::id());
        // cgroup v1's memory hierarchy, else v2's unified one.
        for (dir, file) in [
            (
                format!("/sys/fs/cgroup/memory/{name}"),
                "memory.limit_in_bytes",
            ),
            (format!("/sys/fs/cgroup/{name}"), "memory.max"),
        ] {
            let dir = PathBuf::from(dir);
            if std::fs::create_dir(&dir).is_ok() {
                if std::fs::write(dir.join(file), Self::LIMIT.to_string()).is_ok() {
                    return Self { dir };
                }
                let _ = std::fs::remove_dir(&dir);
            }
        }
        panic!(
            "cannot create a memory cgroup with a limit (the test runs as root on a machine with cgroup v1 memory or v2 memory)"
        );
    }

    /// `sh -c` arguments that join this cgroup, then exec `program` with `args`.
    fn wrap(&self, program: &str, args: &[String]) -> Vec<String> {
        let mut wrapped = vec![
            "-c".to_owned(),
            format!(
                "echo $$ > {}/cgroup.procs && exec \"$0\" \"$@\"",
                self.dir.display()
            ),
            program.to_owned(),
        ];
        wrapped.extend(args.iter().cloned());
        wrapped
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A live line of the run: when the test read it, and the delivered total it shows.
#[derive(Clone, Copy, Debug)]
struct Live {
    at: SystemTime,
    delivered: u64,
}

/// A `devsim run` with its metrics address and live lines.
struct Run {
    child: Child,
    metrics_addr: String,
    live: Arc<Mutex<Vec<Live>>>,
    _file: tempfile::NamedTempFile,
}

impl Run {
    fn start(brokers: Option<&str>, cgroup: Option<&MemoryCgroup>) -> Self {
        let mut file = tempfile::NamedTempFile::new().expect("temporary file");
        let yaml = common::spec(
            "devices: 200\nseed: 11\ninterval: 100ms\nkafka:\n  topic: iot-sensor-data\n  partitions: 3\n",
        );
        std::io::Write::write_all(&mut file, yaml.as_bytes()).expect("write the simulation");
        let mut args: Vec<String> = ["run", "-f"].iter().map(|s| (*s).to_owned()).collect();
        args.push(file.path().display().to_string());
        args.extend(["--duration", "40s", "--metrics-addr", "127.0.0.1:0"].map(String::from));
        if let Some(brokers) = brokers {
            args.extend(["--brokers".to_owned(), brokers.to_owned()]);
        }
        let devsim = env!("CARGO_BIN_EXE_devsim");
        let mut command = match cgroup {
            Some(cgroup) => {
                let mut c = Command::new("sh");
                c.args(cgroup.wrap(devsim, &args));
                c
            }
            None => {
                let mut c = Command::new(devsim);
                c.args(&args);
                c
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start devsim run");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let metrics_addr = common::metrics_address(&mut lines);
        let live = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&live);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(delivered) = delivered_total(&line) {
                    sink.lock().expect("live lines").push(Live {
                        at: SystemTime::now(),
                        delivered,
                    });
                }
            }
        });
        Self {
            child,
            metrics_addr,
            live,
            _file: file,
        }
    }

    fn live(&self) -> Vec<Live> {
        self.live.lock().expect("live lines").clone()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The delivered total of a live line (`[  3.0s] delivered 2000 msg/s (sent ...)  delivered
/// 6000  sent ...`): the number after the second `delivered`.
fn delivered_total(line: &str) -> Option<u64> {
    if !line.starts_with('[') {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let second = words
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == "delivered")
        .nth(1)?
        .0;
    words.get(second + 1)?.parse().ok()
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// Whether `expr` reads a metric only the operator serves.
fn reads_operator_metrics(expr: &str) -> bool {
    FAMILIES
        .iter()
        .filter(|f| f.served == Served::Operator)
        .any(|f| expr.contains(f.name))
}

#[test]
fn prometheus_computes_the_run_s_throughput_and_every_dashboard_query_answers() {
    let cgroup = MemoryCgroup::create();
    let run = Run::start(None, Some(&cgroup));
    let prometheus = Prometheus::start(std::slice::from_ref(&run.metrics_addr), &[rules_file()]);
    prometheus.wait_for("the run's first scrapes", Duration::from_secs(30), |p| {
        p.scalar("devsim_messages_delivered_total")
            .filter(|&n| n > 0.0)
    });
    // Steady state, and 5 s statistics windows of librdkafka seen a few times.
    prometheus.wait_for("20 s of producing", Duration::from_secs(40), |_| {
        let live = run.live();
        (live.len() >= 22).then_some(())
    });

    // 1. The delivered rate Prometheus computes over 10 s against the run's own figures for
    //    the same 10 s (its live lines' delivered totals).
    let live = run.live();
    let last = *live.last().expect("live lines");
    let first = *live
        .iter()
        .rev()
        .find(|l| {
            last.at
                .duration_since(l.at)
                .is_ok_and(|d| d >= Duration::from_secs(10))
        })
        .expect("a line 10 s earlier");
    let window = last
        .at
        .duration_since(first.at)
        .expect("ordered")
        .as_secs_f64();
    let run_rate = (last.delivered - first.delivered) as f64 / window;
    let query = format!(
        "rate(devsim_messages_delivered_total[{}ms])",
        (window * 1e3).round()
    );
    let prometheus_rate = prometheus
        .query_at(&query, unix_seconds(last.at))
        .first()
        .and_then(|r| r["value"][1].as_str()?.parse::<f64>().ok())
        .expect("a rate");
    let off = (prometheus_rate - run_rate).abs() / run_rate;
    eprintln!(
        "delivered rate over {window:.1} s: Prometheus {prometheus_rate:.1} msg/s, the run's own {run_rate:.1} msg/s ({:.2} % apart; scheduled {SCHEDULED_RATE})",
        off * 100.0
    );
    assert!(off < 0.05, "Prometheus {prometheus_rate} vs run {run_rate}");
    assert!(
        (run_rate - SCHEDULED_RATE).abs() / SCHEDULED_RATE < 0.05,
        "the run kept its schedule: {run_rate}"
    );

    // 2. Every dashboard query answers, but those on the operator's metrics (no operator
    //    runs here: the end-to-end test asks those of a real one).
    let mut asked = 0;
    let mut operator_only = Vec::new();
    for (title, expr) in dashboard_queries() {
        if reads_operator_metrics(&expr) {
            operator_only.push(title);
            continue;
        }
        let result = prometheus.query(&as_grafana_sends(&expr, ".*", "test"));
        assert!(!result.is_empty(), "panel {title:?}: no result for {expr}");
        asked += 1;
    }
    eprintln!("{asked} dashboard queries answered; left to the operator's test: {operator_only:?}");
    assert!(asked >= 20, "{asked}");

    // 3. The heatmap's query: one series per bucket, counts rising with the bound.
    let mut buckets: Vec<(f64, f64)> = prometheus
        .query(
            "sum by (le) (increase(devsim_delivery_latency_seconds_bucket{simulation=\"test\"}[10s]))",
        )
        .iter()
        .map(|r| {
            let le = r["metric"]["le"].as_str().expect("le");
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("a bound")
            };
            (bound, r["value"][1].as_str().expect("v").parse().expect("a count"))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(buckets.len(), 17, "16 bounds and +Inf: {buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-9),
        "{buckets:?}"
    );
    assert!(buckets[16].1 > 0.0, "{buckets:?}");

    // 4. What a Kafka operator watches: every broker up, its round trips, the memory limit
    //    of the cgroup and the process's memory against it.
    let up = prometheus.query("devsim_kafka_broker_up");
    assert_eq!(up.len(), 3, "the embedded cluster's three brokers: {up:?}");
    assert!(up.iter().all(|r| r["value"][1] == "1"), "{up:?}");
    assert!(
        !prometheus
            .query("devsim_kafka_broker_rtt_seconds{quantile=\"0.99\"}")
            .is_empty()
    );
    assert_eq!(
        prometheus.scalar("devsim_memory_limit_bytes"),
        Some(MemoryCgroup::LIMIT as f64)
    );
    let share = prometheus
        .scalar("process_resident_memory_bytes / devsim_memory_limit_bytes")
        .expect("memory share");
    assert!(share > 0.0 && share < 0.8, "{share}");

    // 5. What Prometheus read of /metrics is the catalog (the README's reference): every
    //    family a run serves, with its type and its labels, and nothing else.
    let metadata = prometheus.api("/api/v1/metadata");
    let run_families: Vec<_> = FAMILIES
        .iter()
        .filter(|f| f.served != Served::Operator)
        .collect();
    for family in &run_families {
        let kind = metadata[family.name][0]["type"].as_str();
        assert_eq!(
            kind,
            Some(family.kind.name()),
            "{}: {metadata}",
            family.name
        );
        let series = prometheus.api(&format!(
            "/api/v1/series?match[]={}",
            common::prometheus::encode(&format!(
                "{{__name__=~\"{}(_bucket|_sum|_count)?\"}}",
                family.name
            ))
        ));
        let mut labels = BTreeSet::new();
        for one in series.as_array().expect("series") {
            labels.extend(one.as_object().expect("labels").keys().cloned());
        }
        for common_label in ["__name__", "job", "instance", "simulation", "shard", "le"] {
            labels.remove(common_label);
        }
        let expected: BTreeSet<String> = family.labels.iter().map(|l| (*l).to_owned()).collect();
        assert_eq!(labels, expected, "{}", family.name);
    }
    let served: Vec<&str> = metadata
        .as_object()
        .expect("metadata")
        .keys()
        .map(String::as_str)
        .filter(|n| n.starts_with("devsim_") || n.starts_with("process_"))
        .collect();
    for name in &served {
        assert!(
            run_families.iter().any(|f| f.name == *name),
            "{name} is served but not in the catalog"
        );
    }
    eprintln!(
        "{} families scraped, each as the catalog says",
        served.len()
    );

    // 6. The rules loaded, evaluate without error, and stay quiet on a healthy run.
    let rules = healthy_rules(&prometheus);
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule}");
        assert_eq!(
            rule["state"], "inactive",
            "a healthy run alerts nothing: {rule}"
        );
    }
}

#[test]
fn the_error_rate_alert_goes_pending_when_the_brokers_refuse_every_produce_request() {
    let mut broker = common::BrokerProcess::start("iot-sensor-data", 3);
    broker.order("refuse");
    std::thread::sleep(Duration::from_secs(1));
    let run = Run::start(Some(&broker.bootstrap.clone()), None);
    let prometheus = Prometheus::start(std::slice::from_ref(&run.metrics_addr), &[rules_file()]);
    let state = prometheus.wait_for(
        "DevsimErrorRateHigh pending or firing",
        Duration::from_secs(45),
        |p| {
            p.api("/api/v1/alerts")["alerts"]
                .as_array()?
                .iter()
                .find(|a| {
                    a["labels"]["alertname"] == "DevsimErrorRateHigh"
                        && a["labels"]["simulation"] == "test"
                })
                .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
        },
    );
    assert!(state == "pending" || state == "firing", "{state}");
    let refused = prometheus
        .scalar("sum(rate(devsim_messages_failed_total{reason=\"too_large\"}[5s]))")
        .expect("a failure rate");
    let delivered = prometheus
        .scalar("sum(rate(devsim_messages_delivered_total[5s]))")
        .expect("a delivered rate");
    eprintln!(
        "DevsimErrorRateHigh {state}; failed {refused:.0} msg/s (too_large), delivered {delivered:.0} msg/s"
    );
    assert!(refused > 100.0, "{refused}");
    assert_eq!(delivered, 0.0);
    let error_rate = prometheus
        .scalar(
            "sum(rate(devsim_messages_failed_total[5s])) / (sum(rate(devsim_messages_failed_total[5s])) + sum(rate(devsim_messages_delivered_total[5s])))",
        )
        .expect("the dashboard's error rate");
    assert_eq!(error_rate, 1.0);

    // The brokers accept again: deliveries resume, as Prometheus sees them.
    broker.order("accept");
    let resumed = prometheus.wait_for("deliveries again", Duration::from_secs(30), |p| {
        p.scalar("sum(rate(devsim_messages_delivered_total[3s]))")
            .filter(|&r| r > 100.0)
    });
    eprintln!("after `accept`: delivered {resumed:.0} msg/s");
}
