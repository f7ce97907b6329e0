//! The operator's metrics: its reconciles, its leadership, the standard `process_*`, and each
//! simulation's phase and conditions read from the controller's cache at every scrape (as
//! kube-state-metrics does), so a deleted simulation's series simply end.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus::core::{Collector, Desc};
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, proto,
};

use crate::crd::{DeviceSimulation, Phase};
use crate::metrics::{AdminState, catalog, process_registry, render_registry};

/// Reconcile metrics and simulation states, served on the operator's `/metrics`.
pub struct OperatorMetrics {
    registry: Registry,
    reconciles: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    /// 1 while this replica holds the lease.
    pub leader: IntGauge,
    /// Whether `/readyz` answers 200.
    pub ready: AtomicBool,
    simulations: SimulationStates,
}

fn opts(name: &str) -> Opts {
    Opts::new(name, catalog::lookup(name).help)
}

impl Default for OperatorMetrics {
    fn default() -> Self {
        let registry = process_registry(&[]);
        let reconciles = IntCounterVec::new(opts("devsim_reconciles_total"), &["outcome"])
            .expect("metric names are valid");
        let errors = IntCounterVec::new(opts("devsim_reconcile_errors_total"), &["category"])
            .expect("metric names are valid");
        let name = "devsim_reconcile_duration_seconds";
        let duration = HistogramVec::new(
            HistogramOpts::new(name, catalog::lookup(name).help).buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &[],
        )
        .expect("metric names are valid");
        let leader =
            IntGauge::with_opts(opts("devsim_operator_leader")).expect("metric names are valid");
        let simulations = SimulationStates::default();
        for m in [
            Box::new(reconciles.clone()) as Box<dyn Collector>,
            Box::new(errors.clone()),
            Box::new(duration.clone()),
            Box::new(leader.clone()),
            Box::new(simulations.clone()),
        ] {
            registry.register(m).expect("metric names are unique");
        }
        Self {
            registry,
            reconciles,
            errors,
            duration,
            leader,
            ready: AtomicBool::new(false),
            simulations,
        }
    }
}

impl OperatorMetrics {
    /// Records one reconcile and its error category, if it failed.
    pub fn observe(&self, took: Duration, error: Option<&'static str>) {
        self.duration
            .with_label_values(&[] as &[&str])
            .observe(took.as_secs_f64());
        self.reconciles
            .with_label_values(&[if error.is_some() { "error" } else { "ok" }])
            .inc();
        if let Some(category) = error {
            self.errors.with_label_values(&[category]).inc();
        }
    }

    /// Serves the phase and conditions of the simulations in `store` from now on (the leader's
    /// controller cache; a standby serves none, so only one replica reports each simulation).
    pub fn watch_simulations(&self, store: Store<DeviceSimulation>) {
        let _ = self.simulations.store.set(store);
    }
}

impl AdminState for OperatorMetrics {
    fn render(&self) -> String {
        render_registry(&self.registry)
    }
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// `devsim_simulation_*`, computed from the cache at each collection.
#[derive(Clone)]
struct SimulationStates {
    store: std::sync::Arc<OnceLock<Store<DeviceSimulation>>>,
    descs: Vec<Desc>,
}

const PHASE: &str = "devsim_simulation_phase";
const CONDITION: &str = "devsim_simulation_condition";
const RATE: &str = "devsim_simulation_messages_per_second";

impl Default for SimulationStates {
    fn default() -> Self {
        let descs = [PHASE, CONDITION, RATE]
            .iter()
            .map(|name| {
                let family = catalog::lookup(name);
                Desc::new(
                    family.name.to_owned(),
                    family.help.to_owned(),
                    family.labels.iter().map(|l| (*l).to_owned()).collect(),
                    Default::default(),
                )
                .expect("metric names are valid")
            })
            .collect();
        Self {
            store: Default::default(),
            descs,
        }
    }
}

impl SimulationStates {
    fn vec(name: &str) -> GaugeVec {
        GaugeVec::new(opts(name), catalog::lookup(name).labels).expect("metric names are valid")
    }

    /// The families for `simulations`.
    fn families(simulations: &[std::sync::Arc<DeviceSimulation>]) -> Vec<proto::MetricFamily> {
        let (phases, conditions, rates) = (Self::vec(PHASE), Self::vec(CONDITION), Self::vec(RATE));
        for sim in simulations {
            let (namespace, name) = (sim.namespace().unwrap_or_default(), sim.name_any());
            let Some(status) = &sim.status else { continue };
            if let Some(current) = status.phase {
                for phase in Phase::ALL {
                    phases
                        .with_label_values(&[&namespace, &name, phase.name()])
                        .set(f64::from(u8::from(phase == current)));
                }
            }
            for c in &status.conditions {
                conditions
                    .with_label_values(&[&namespace, &name, &c.type_, &c.reason])
                    .set(f64::from(u8::from(c.status == "True")));
            }
            let rate: Gauge = rates.with_label_values(&[&namespace, &name]);
            rate.set(status.messages_per_second);
        }
        [phases, conditions, rates]
            .iter()
            .flat_map(Collector::collect)
            .collect()
    }
}

impl Collector for SimulationStates {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        self.store
            .get()
            .map_or_else(Vec::new, |store| Self::families(&store.state()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::DeviceSimulationStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    #[test]
    fn reconcile_metrics_count_outcomes_and_error_categories() {
        let metrics = OperatorMetrics::default();
        metrics.observe(Duration::from_millis(3), None);
        metrics.observe(Duration::from_millis(7), Some("conflict"));
        let text = metrics.render();
        for line in [
            "devsim_reconciles_total{outcome=\"ok\"} 1",
            "devsim_reconciles_total{outcome=\"error\"} 1",
            "devsim_reconcile_errors_total{category=\"conflict\"} 1",
            "devsim_reconcile_duration_seconds_count 2",
            "devsim_operator_leader 0",
            "process_start_time_seconds",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        assert!(!metrics.ready(), "not ready before the API server answers");
        assert!(
            !text.contains("devsim_simulation_phase"),
            "a standby serves no simulation: {text}"
        );
    }

    fn simulation(name: &str, phase: Phase, degraded: Option<&str>) -> DeviceSimulation {
        let mut sim: DeviceSimulation = serde_json::from_value(serde_json::json!({
            "apiVersion": "devsim.io/v1alpha1", "kind": "DeviceSimulation",
            "metadata": {"name": name, "namespace": "plant"},
            "spec": {"devices": 10, "interval": "1s", "kafka": {"topic": "t"}}
        }))
        .expect("a simulation");
        let condition = |type_: &str, status: &str, reason: &str| Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        };
        sim.status = Some(DeviceSimulationStatus {
            phase: Some(phase),
            conditions: vec![
                condition("Ready", "True", "Producing"),
                match degraded {
                    Some(reason) => condition("Degraded", "True", reason),
                    None => condition("Degraded", "False", "Healthy"),
                },
            ],
            messages_per_second: 2000.0,
            ..Default::default()
        });
        sim
    }

    #[test]
    fn the_leader_serves_each_simulation_s_phase_conditions_and_rate_and_forgets_deleted_ones() {
        let metrics = OperatorMetrics::default();
        let (store, mut writer) = reflector::store();
        let mut apply = |sim: DeviceSimulation| writer.apply_watcher_event(&Event::Apply(sim));
        apply(simulation(
            "line-1",
            Phase::Running,
            Some("DeliveriesFailing"),
        ));
        apply(simulation("line-2", Phase::Failed, None));
        metrics.watch_simulations(store);
        let text = metrics.render();
        for line in [
            r#"devsim_simulation_phase{namespace="plant",phase="Running",simulation="line-1"} 1"#,
            r#"devsim_simulation_phase{namespace="plant",phase="Pending",simulation="line-1"} 0"#,
            r#"devsim_simulation_phase{namespace="plant",phase="Failed",simulation="line-2"} 1"#,
            r#"devsim_simulation_condition{namespace="plant",reason="DeliveriesFailing",simulation="line-1",type="Degraded"} 1"#,
            r#"devsim_simulation_condition{namespace="plant",reason="Healthy",simulation="line-2",type="Degraded"} 0"#,
            r#"devsim_simulation_messages_per_second{namespace="plant",simulation="line-1"} 2000"#,
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        writer.apply_watcher_event(&Event::Delete(simulation("line-2", Phase::Failed, None)));
        let text = metrics.render();
        assert!(!text.contains("line-2"), "{text}");
        assert!(text.contains("line-1"), "{text}");
    }
}
