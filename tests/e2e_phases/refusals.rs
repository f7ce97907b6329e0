//! Invalid resources through the real API server: what its schema refuses (the resource is never
//! stored) and what only the controller can judge (stored, then Ready=False/InvalidSpec naming
//! the field, no worker created), while the running simulation carries on untouched.

use std::time::Duration;

use devsim::crd::Phase;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::Api;

use super::{E2e, NS, events_of, simulation, status};
use crate::e2e_support::eventually;

/// A value that must never be repeated back by whoever refuses the resource.
const PLANTED: &str = "hunter2-refused";

/// A resource the API server must refuse: (case, spec edit, words the refusal must contain).
struct SchemaCase {
    name: &'static str,
    edit: fn(String) -> String,
    says: &'static [&'static str],
}

/// A resource the schema accepts but the controller must refuse: (case, spec edit, the field
/// its InvalidSpec condition must name).
struct ControllerCase {
    name: &'static str,
    edit: fn(String) -> String,
    field: &'static str,
}

/// Appends `lines` inside `spec.kafka` (the last block of [`simulation`]).
fn in_kafka(sim: String, lines: &str) -> String {
    let indented: String = lines.lines().map(|l| format!("    {l}\n")).collect();
    sim + &indented
}

const SCHEMA_CASES: &[SchemaCase] = &[
    SchemaCase {
        name: "no-devices",
        edit: |s| s.replace("devices: 200", "devices: 0"),
        says: &["spec.devices", "greater than or equal to 1"],
    },
    SchemaCase {
        name: "devices-text",
        edit: |s| s.replace("devices: 200", "devices: many"),
        says: &["spec.devices", "integer"],
    },
    SchemaCase {
        name: "negative-interval",
        edit: |s| s.replace("interval: 500ms", "interval: -5s"),
        says: &["spec.interval"],
    },
    SchemaCase {
        name: "interval-too-long",
        edit: |s| s.replace("interval: 500ms", "interval: 9999999999999999h"),
        says: &["spec.interval"],
    },
    SchemaCase {
        name: "xml-encoding",
        edit: |s| s + "  encoding: xml\n",
        says: &["spec.encoding", "json", "protobuf"],
    },
    SchemaCase {
        name: "brotli",
        edit: |s| s.replace("compression: lz4", "compression: brotli"),
        says: &["spec.kafka.compression", "zstd"],
    },
    SchemaCase {
        name: "bad-topic",
        edit: |s| s.replace("topic: e2e\n", "topic: \"no spaces!\"\n"),
        says: &["spec.kafka.topic"],
    },
    SchemaCase {
        name: "devices-missing",
        edit: |s| s.replace("  devices: 200\n", ""),
        says: &["spec.devices", "Required"],
    },
    SchemaCase {
        name: "tls-protocol",
        edit: |s| in_kafka(s, "security:\n  protocol: TLS"),
        says: &["spec.kafka.security.protocol", "SASL_SSL"],
    },
    SchemaCase {
        name: "password-inline",
        edit: |s| {
            in_kafka(
                s,
                &format!(
                    "security:\n  protocol: SASL_PLAINTEXT\n  sasl:\n    mechanism: PLAIN\n    username: {{secretKeyRef: {{name: u, key: u}}}}\n    password: {PLANTED}"
                ),
            )
        },
        says: &["spec.kafka.security.sasl.password", "object"],
    },
    SchemaCase {
        name: "secret-name",
        edit: |s| {
            in_kafka(
                s,
                "security:\n  protocol: SSL\n  tls:\n    caCertificate: {secretKeyRef: {name: Bad_Name!, key: ca.crt}}",
            )
        },
        says: &["spec.kafka.security.tls.caCertificate.secretKeyRef.name"],
    },
];

const CONTROLLER_CASES: &[ControllerCase] = &[
    ControllerCase {
        name: "min-above-max",
        edit: |s| {
            s + "  profiles:\n    - name: p\n      sensors:\n        - type: current\n          min: 5\n          max: 1\n"
        },
        field: "spec.profiles[0].sensors[0].min",
    },
    ControllerCase {
        name: "interval-hours",
        edit: |s| s.replace("interval: 500ms", "interval: 2h"),
        field: "spec.interval",
    },
    ControllerCase {
        name: "password-property",
        edit: |s| in_kafka(s, &format!("properties:\n  sasl.password: {PLANTED}")),
        field: "spec.kafka.properties.sasl.password",
    },
    ControllerCase {
        name: "sasl-missing",
        edit: |s| in_kafka(s, "security:\n  protocol: SASL_SSL"),
        field: "spec.kafka.security.sasl",
    },
    ControllerCase {
        name: "half-mtls",
        edit: |s| {
            in_kafka(
                s,
                "security:\n  protocol: SSL\n  tls:\n    clientCertificate: {secretKeyRef: {name: c, key: tls.crt}}",
            )
        },
        field: "spec.kafka.security.tls",
    },
    ControllerCase {
        name: "secret-env",
        edit: |s| {
            s + &format!(
                "  workerTemplate:\n    env:\n      - name: DEVSIM_KAFKA_SASL_PASSWORD\n        value: {PLANTED}\n"
            )
        },
        field: "spec.workerTemplate.env[0].name",
    },
];

/// The resource of case `name`: a valid simulation of its own topic, then `edit`ed.
fn case_resource(e: &E2e, name: &str, edit: fn(String) -> String) -> String {
    edit(simulation(&format!("bad-{name}"), &e.broker.bootstrap, ""))
        .replace("topic: e2e\n", &format!("topic: e2e-bad-{name}\n"))
}

/// Every schema case refused by the API server itself (`--validate=false`: nothing checked by
/// kubectl), an unknown field refused by kubectl's validation against the published schema, and
/// every controller case reported as InvalidSpec without a worker, the running simulation
/// producing throughout.
pub async fn invalid_resources(e: &mut E2e) {
    let sent_before = running_sent(e).await;
    for case in SCHEMA_CASES {
        let (ok, text) = e.cluster.apply_with(
            &case_resource(e, case.name, case.edit),
            &["--validate=false"],
        );
        assert!(!ok, "{}: the API server stored it:\n{text}", case.name);
        for says in case.says {
            assert!(
                text.contains(says),
                "{}: no `{says}` in:\n{text}",
                case.name
            );
        }
        assert!(
            !text.contains(PLANTED),
            "{}: echoed the secret:\n{text}",
            case.name
        );
    }
    // The API server 1.20 prunes unknown fields silently; kubectl's validation (on by default)
    // refuses them by the schema the CRD publishes.
    let unknown = case_resource(e, "unknown-field", |s| s + "  devicez: 3\n");
    let (ok, text) = e.cluster.apply(&unknown);
    assert!(
        !ok && text.contains("unknown field \"devicez\""),
        "unknown field:\n{text}"
    );
    let stored = e
        .cluster
        .kubectl(&["get", "devsim", "-n", NS, "-o", "name"])
        .1;
    assert!(
        !stored.contains("bad-unknown-field")
            && SCHEMA_CASES
                .iter()
                .all(|c| !stored.contains(&format!("/bad-{}\n", c.name))),
        "a refused resource was stored:\n{stored}"
    );
    eprintln!(
        "e2e: {} schema refusals named their field",
        SCHEMA_CASES.len() + 1
    );

    for case in CONTROLLER_CASES {
        let (ok, text) = e.cluster.apply(&case_resource(e, case.name, case.edit));
        assert!(ok, "{}: schema-valid resource refused:\n{text}", case.name);
    }
    let sims = &e.sims;
    for case in CONTROLLER_CASES {
        let name = format!("bad-{}", case.name);
        let message = eventually(
            &format!("{}: InvalidSpec naming {}", case.name, case.field),
            Duration::from_secs(30),
            || async {
                let s = status(sims, &name).await;
                let ready = s.conditions.iter().find(|c| c.type_ == "Ready")?;
                (ready.status == "False"
                    && ready.reason == "InvalidSpec"
                    && s.phase == Some(Phase::Failed))
                .then(|| ready.message.clone())
            },
        )
        .await;
        assert!(
            message.contains(&format!("{}: ", case.field)),
            "{}: the condition does not name {}:\n{message}",
            case.name,
            case.field
        );
        assert!(
            !message.contains(PLANTED),
            "{}: status echoes the secret",
            case.name
        );
    }
    let sets: Api<StatefulSet> = Api::namespaced(e.client.clone(), NS);
    for case in CONTROLLER_CASES {
        let name = format!("bad-{}", case.name);
        assert!(
            sets.get_opt(&name)
                .await
                .expect("list StatefulSets")
                .is_none(),
            "{}: workers were created for an invalid simulation",
            case.name
        );
    }
    let events = e.cluster.kubectl_ok(&["get", "events", "-n", NS]);
    assert!(!events.contains(PLANTED), "an event echoes the secret");
    let refused = events_of(&e.cluster, "bad-min-above-max");
    assert!(
        refused.contains("InvalidSpec"),
        "no InvalidSpec event:\n{refused}"
    );
    // After the failover phase the standby leads: whichever leads must still be running.
    let leading = [e.operator.as_mut(), e.standby.as_mut()]
        .into_iter()
        .flatten()
        .any(|operator| operator.is_running());
    assert!(leading, "the operator died");
    if let Some(before) = sent_before {
        let sims = &e.sims;
        eventually(
            "the running simulation keeps producing",
            Duration::from_secs(20),
            || async { (status(sims, "plant").await.totals.messages_sent > before).then_some(()) },
        )
        .await;
    }
    for case in CONTROLLER_CASES {
        e.cluster
            .kubectl_ok(&["delete", "devsim", &format!("bad-{}", case.name), "-n", NS]);
    }
    eprintln!(
        "e2e: {} controller refusals reported as InvalidSpec, no workers, others unaffected",
        CONTROLLER_CASES.len()
    );
}

/// What the running simulation `plant` has sent, if it is running.
async fn running_sent(e: &E2e) -> Option<u64> {
    let plant = e.sims.get("plant").await.ok()?;
    (plant.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running))
        .then(|| plant.status.unwrap_or_default().totals.messages_sent)
}
