//! Reconcile scenarios against a mocked API server (the ApiServerVerifier pattern of
//! kube-rs/controller-rs): each scenario lists the requests one reconcile must make, in order,
//! checks their bodies, and answers them.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};

use super::build::BuildConfig;
use super::{Context, OperatorMetrics};
use crate::config::parse_simulation;
use crate::crd::DeviceSimulation;

type ApiServerHandle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// Plays the API server for one reconcile.
pub struct ApiServerVerifier(ApiServerHandle);

/// A situation a reconcile may meet.
#[derive(Clone, Copy, Debug)]
pub enum Scenario {
    /// A new, valid simulation: StatefulSet and Service applied, status Pending.
    NewSimulation,
    /// A schema-valid but invalid spec: no objects, status Failed/InvalidSpec, a Warning event.
    InvalidSpec,
    /// `paused: true` on a running simulation: StatefulSet to 0, status Paused, an event.
    Paused,
    /// A stopped shard beyond the count whose pod is gone: one JSON patch, nothing else.
    PruneStoppedShard,
    /// The status write loses to a concurrent writer: 409 Conflict.
    StatusConflict,
    /// The API server fails the first read: 503 Service Unavailable.
    ApiServerUnavailable,
    /// The API server refuses the StatefulSet (422, an admission rule): status and event say
    /// why, then the error goes to the backoff.
    WorkersRejected,
}

/// A test context whose client talks to the returned verifier.
pub fn testcontext() -> (Arc<Context>, ApiServerVerifier) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let reporter = Reporter {
        controller: "devsim-operator".into(),
        instance: Some("test".into()),
    };
    let context = Context {
        reporter,
        client,
        metrics: Arc::new(OperatorMetrics::default()),
        build: BuildConfig::new("devsim:test", "IfNotPresent"),
        failures: super::retry::FailureCounts::default(),
        worker_pods: kube::runtime::reflector::store().0,
    };
    (Arc::new(context), ApiServerVerifier(handle))
}

/// A simulation fixture with the given spec lines and status.
pub fn simulation(spec: &str, status: Option<Value>) -> DeviceSimulation {
    let mut sim = parse_simulation(&format!(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\n  namespace: iot\n  uid: 5a1d\n  generation: 1\n  resourceVersion: \"41\"\nspec:\n  devices: 100\n  replicas: 2\n  kafka:\n    bootstrapServers: \"kafka:9092\"\n{spec}"
    ))
    .expect("fixture parses");
    sim.status = status.map(|s| serde_json::from_value(s).expect("status fixture"));
    sim
}

fn stateful_set(replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "plant-workers", "namespace": "iot"},
        "spec": {"replicas": replicas, "serviceName": "plant-workers", "selector": {}, "template": {}},
        "status": {"replicas": replicas, "readyReplicas": replicas}
    })
}

impl ApiServerVerifier {
    /// Answers the scenario's requests; the returned task fails if any is missing or wrong.
    pub fn run(self, scenario: Scenario, sim: &DeviceSimulation) -> tokio::task::JoinHandle<()> {
        self.run_each(vec![scenario], sim)
    }

    /// Answers the requests of several reconciles, one scenario each, in order.
    pub fn run_each(
        self,
        scenarios: Vec<Scenario>,
        sim: &DeviceSimulation,
    ) -> tokio::task::JoinHandle<()> {
        let object = serde_json::to_value(sim).expect("the simulation serialises");
        tokio::spawn(async move {
            let mut s = self;
            for scenario in scenarios {
                match scenario {
                    Scenario::NewSimulation => {
                        s.expect_get_workers(StatusCode::NOT_FOUND, not_found())
                            .await;
                        s.expect_worker_access().await;
                        let sts = s.expect("PATCH", "/apis/apps/v1/namespaces/iot/statefulsets/plant-workers?&force=true&fieldManager=devsim-operator", StatusCode::OK, stateful_set(2)).await;
                        assert_eq!(sts["spec"]["replicas"], 2);
                        assert_eq!(
                            sts["metadata"]["ownerReferences"][0]["kind"],
                            "DeviceSimulation"
                        );
                        let svc = s.expect("PATCH", "/api/v1/namespaces/iot/services/plant-workers?&force=true&fieldManager=devsim-operator", StatusCode::OK, json!({})).await;
                        assert_eq!(svc["spec"]["clusterIP"], "None");
                        let status = s.expect("PATCH", "/apis/devsim.io/v1alpha1/namespaces/iot/devicesimulations/plant/status?&force=true&fieldManager=devsim-operator", StatusCode::OK, object.clone()).await;
                        assert_eq!(status["status"]["phase"], "Pending");
                        // Written only onto the version the decision was made from.
                        assert_eq!(status["metadata"]["resourceVersion"], "41");
                        assert!(status["status"]["startTime"].is_string());
                        assert_eq!(status["status"]["schedule"]["firstSeq"], 0);
                        assert!(
                            status["status"].get("shards").is_none(),
                            "the controller never writes shard entries"
                        );
                    }
                    Scenario::InvalidSpec => {
                        s.expect_get_workers(StatusCode::NOT_FOUND, not_found())
                            .await;
                        let status = s.expect("PATCH", "/apis/devsim.io/v1alpha1/namespaces/iot/devicesimulations/plant/status?&force=true&fieldManager=devsim-operator", StatusCode::OK, object.clone()).await;
                        assert_eq!(status["status"]["phase"], "Failed");
                        let ready = &status["status"]["conditions"][0];
                        assert_eq!(
                            (ready["type"].as_str(), ready["reason"].as_str()),
                            (Some("Ready"), Some("InvalidSpec"))
                        );
                        assert!(
                            ready["message"]
                                .as_str()
                                .unwrap_or_default()
                                .contains("spec.profiles[0].sensors[0].min")
                        );
                        let event = s.expect_event().await;
                        assert_eq!(
                            (event["type"].as_str(), event["reason"].as_str()),
                            (Some("Warning"), Some("InvalidSpec"))
                        );
                    }
                    Scenario::Paused => {
                        s.expect_get_workers(StatusCode::OK, stateful_set(2)).await;
                        s.expect_worker_access().await;
                        let sts = s.expect("PATCH", "/apis/apps/v1/namespaces/iot/statefulsets/plant-workers?&force=true&fieldManager=devsim-operator", StatusCode::OK, stateful_set(0)).await;
                        assert_eq!(sts["spec"]["replicas"], 0);
                        s.expect("PATCH", "/api/v1/namespaces/iot/services/plant-workers?&force=true&fieldManager=devsim-operator", StatusCode::OK, json!({})).await;
                        let status = s.expect("PATCH", "/apis/devsim.io/v1alpha1/namespaces/iot/devicesimulations/plant/status?&force=true&fieldManager=devsim-operator", StatusCode::OK, object.clone()).await;
                        assert_eq!(status["status"]["phase"], "Paused");
                        assert_eq!(status["status"]["messagesSent"], 500, "totals kept");
                        let event = s.expect_event().await;
                        assert_eq!(event["reason"], "Paused");
                    }
                    Scenario::PruneStoppedShard => {
                        s.expect_get_workers(StatusCode::OK, stateful_set(2)).await;
                        let patch = s.expect("PATCH", "/apis/devsim.io/v1alpha1/namespaces/iot/devicesimulations/plant/status?", StatusCode::OK, object.clone()).await;
                        let ops = patch.as_array().expect("a JSON patch");
                        assert!(
                            ops.iter()
                                .any(|op| op["op"] == "remove" && op["path"] == "/status/shards/2")
                        );
                        assert!(ops.iter().any(|op| op["op"] == "test"
                            && op["path"] == "/status/shards/2/stopped"
                            && op["value"] == true));
                        let retired = ops
                            .iter()
                            .find(|op| op["path"] == "/status/retired")
                            .expect("retired set");
                        assert_eq!(retired["value"]["messagesSent"], 30);
                    }
                    Scenario::StatusConflict => {
                        s.expect_get_workers(StatusCode::OK, stateful_set(2)).await;
                        s.expect_worker_access().await;
                        s.expect("PATCH", "/apis/apps/v1/namespaces/iot/statefulsets/plant-workers?&force=true&fieldManager=devsim-operator", StatusCode::OK, stateful_set(2)).await;
                        s.expect("PATCH", "/api/v1/namespaces/iot/services/plant-workers?&force=true&fieldManager=devsim-operator", StatusCode::OK, json!({})).await;
                        s.expect("PATCH", "/apis/devsim.io/v1alpha1/namespaces/iot/devicesimulations/plant/status?&force=true&fieldManager=devsim-operator", StatusCode::CONFLICT, status_error(409, "Conflict")).await;
                    }
                    Scenario::WorkersRejected => {
                        s.expect_get_workers(StatusCode::NOT_FOUND, not_found())
                            .await;
                        let mut refusal = status_error(422, "Invalid");
                        refusal["message"] = json!(
                            "admission webhook denied: pods must not ask for more than 1 cpu"
                        );
                        s.expect_worker_access().await;
                        s.expect("PATCH", "/apis/apps/v1/namespaces/iot/statefulsets/plant-workers?&force=true&fieldManager=devsim-operator", StatusCode::UNPROCESSABLE_ENTITY, refusal).await;
                        let status = s.expect("PATCH", "/apis/devsim.io/v1alpha1/namespaces/iot/devicesimulations/plant/status?&force=true&fieldManager=devsim-operator", StatusCode::OK, object.clone()).await;
                        let ready = &status["status"]["conditions"][0];
                        assert_eq!(
                            (ready["type"].as_str(), ready["reason"].as_str()),
                            (Some("Ready"), Some("WorkersRejected"))
                        );
                        assert_eq!(
                            ready["message"],
                            "applying the StatefulSet: admission webhook denied: pods must not ask for more than 1 cpu"
                        );
                        let event = s.expect_event().await;
                        assert_eq!(
                            (event["type"].as_str(), event["reason"].as_str()),
                            (Some("Warning"), Some("WorkersRejected"))
                        );
                        assert!(
                            event["note"]
                                .as_str()
                                .unwrap_or_default()
                                .contains("must not ask for more than 1 cpu")
                        );
                    }
                    Scenario::ApiServerUnavailable => {
                        s.expect_get_workers(
                            StatusCode::SERVICE_UNAVAILABLE,
                            status_error(503, "ServiceUnavailable"),
                        )
                        .await;
                    }
                }
            }
        })
    }

    /// The Event a reconcile publishes; returns its body.
    async fn expect_event(&mut self) -> Value {
        self.expect(
            "POST",
            "/apis/events.k8s.io/v1/namespaces/iot/events?",
            StatusCode::CREATED,
            json!({}),
        )
        .await
    }

    /// The workers' ServiceAccount, Role and RoleBinding, applied before their StatefulSet.
    async fn expect_worker_access(&mut self) {
        let manager = "?&force=true&fieldManager=devsim-operator";
        let account = self
            .expect(
                "PATCH",
                &format!("/api/v1/namespaces/iot/serviceaccounts/plant-workers{manager}"),
                StatusCode::OK,
                json!({}),
            )
            .await;
        assert_eq!(account["kind"], "ServiceAccount");
        let role = self
            .expect(
                "PATCH",
                &format!(
                    "/apis/rbac.authorization.k8s.io/v1/namespaces/iot/roles/plant-workers{manager}"
                ),
                StatusCode::OK,
                json!({}),
            )
            .await;
        assert_eq!(role["rules"][0]["resourceNames"], json!(["plant"]));
        let binding = self
            .expect(
                "PATCH",
                &format!(
                    "/apis/rbac.authorization.k8s.io/v1/namespaces/iot/rolebindings/plant-workers{manager}"
                ),
                StatusCode::OK,
                json!({}),
            )
            .await;
        assert_eq!(binding["subjects"][0]["name"], "plant-workers");
    }

    /// The read of the workers' StatefulSet that starts every reconcile, answered with `answer`.
    async fn expect_get_workers(&mut self, status: StatusCode, answer: Value) {
        self.expect(
            "GET",
            "/apis/apps/v1/namespaces/iot/statefulsets/plant-workers",
            status,
            answer,
        )
        .await;
    }

    /// Takes the next request, checks its method and URI, answers it, returns its JSON body.
    async fn expect(
        &mut self,
        method: &str,
        uri: &str,
        status: StatusCode,
        answer: Value,
    ) -> Value {
        let (request, send) = self
            .0
            .next_request()
            .await
            .expect("the reconcile made no further request");
        assert_eq!(
            request.method().as_str(),
            method,
            "unexpected request to {}",
            request.uri()
        );
        assert_eq!(request.uri().to_string(), uri);
        let body = request
            .into_body()
            .collect_bytes()
            .await
            .expect("request body");
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).expect("JSON body")
        };
        let response = serde_json::to_vec(&answer).expect("answer serialises");
        send.send_response(
            Response::builder()
                .status(status)
                .body(Body::from(response))
                .expect("response"),
        );
        json
    }
}

fn status_error(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": reason})
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"})
}
