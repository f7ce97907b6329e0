//! `devsim broker --listen`: a real Kafka client (librdkafka) through the relay learns the
//! relay's addresses from the metadata, not the mock brokers' own, and a simulation produced
//! through it verifies exactly; bad flags are refused with the flag named.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

#[test]
fn clients_of_the_relay_are_told_the_relays_addresses_and_everything_arrives() {
    let broker = common::BrokerProcess::start_with("relayed", 6, &["--listen", "127.0.0.1:0"]);
    let relay_ports: BTreeSet<i32> = broker
        .bootstrap
        .split(',')
        .map(|a| {
            a.rsplit_once(':')
                .expect("host:port")
                .1
                .parse()
                .expect("port")
        })
        .collect();
    assert_eq!(
        relay_ports.len(),
        3,
        "one listener per mock broker: {}",
        broker.bootstrap
    );

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .create()
        .expect("client");
    let metadata = consumer
        .fetch_metadata(Some("relayed"), Duration::from_secs(10))
        .expect("metadata through the relay");
    let advertised: BTreeSet<i32> = metadata.brokers().iter().map(|b| b.port()).collect();
    // Without the rewrite these would be the mock brokers' own ports, which cannot be the
    // relay's: both listen on 127.0.0.1 at once.
    assert_eq!(advertised, relay_ports);
    assert!(metadata.brokers().iter().all(|b| b.host() == "127.0.0.1"));
    assert_eq!(metadata.topics()[0].partitions().len(), 6);

    let sim = common::spec(&format!(
        "devices: 50\ninterval: 100ms\nduration: 2s\nreplicas: 2\nkafka:\n  bootstrapServers: \"{}\"\n  topic: relayed\n  partitions: 6\n",
        broker.bootstrap
    ));
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("sim.yaml");
    std::fs::write(&file, sim).expect("write simulation");
    let file = file.to_str().expect("UTF-8");
    let (code, out, err) = common::devsim(&["run", "-f", file]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (code, report, err) = common::devsim(&[
        "verify",
        "--brokers",
        &broker.bootstrap,
        "--topic",
        "relayed",
        "-f",
        file,
        "--expect-devices",
        "50",
        "--max-missing",
        "0",
    ]);
    assert_eq!(code, Some(0), "{report}\n{err}");
    assert_eq!(common::report_value(&report, "duplicates"), 0);
    assert!(
        common::report_value(&report, "messages") >= 50 * 19,
        "{report}"
    );
}

#[test]
fn listen_flags_are_refused_with_what_is_wrong() {
    let (code, _, err) = common::devsim(&["broker", "--listen", "nowhere"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("\"nowhere\" is not IP or IP:PORT"), "{err}");
    let (code, _, err) = common::devsim(&["broker", "--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("needs --advertise HOST"), "{err}");
    let (code, _, err) = common::devsim(&["broker", "--port", "9092", "--listen", "127.0.0.1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
    let (code, _, err) = common::devsim(&["broker", "--advertise", "kafka.example"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--listen"), "{err}");
}
