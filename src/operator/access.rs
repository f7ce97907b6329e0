//! What a simulation's workers may do in the API, built from the simulation alone: their own
//! ServiceAccount, a Role naming only their simulation, and the RoleBinding between the two.
//!
//! Workers run in the simulation's namespace, and a pod can only use a ServiceAccount of its own
//! namespace, so the chart cannot create theirs ahead of time: the operator creates one per
//! simulation, owned by it (deleted with it). The Role names the simulation in `resourceNames`,
//! so a worker can read and report on its own simulation and on no other, even in the same
//! namespace. The operator may grant this because it holds these rights itself (RBAC refuses to
//! let anyone grant more than they have).

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::ResourceExt;

use super::build::{owned_meta, workers_name};
use crate::crd::{DeviceSimulation, GROUP};

/// Name of the ServiceAccount, Role and RoleBinding of a simulation's workers.
pub fn access_name(sim: &DeviceSimulation) -> String {
    workers_name(sim)
}

/// The workers' ServiceAccount.
pub fn service_account(sim: &DeviceSimulation) -> ServiceAccount {
    ServiceAccount {
        metadata: owned_meta(sim),
        ..ServiceAccount::default()
    }
}

/// Exactly what a worker calls: a watch of its simulation (list and watch with a
/// `metadata.name` field selector, which RBAC matches against `resourceNames`) and server-side
/// apply of its shard entry in the status.
pub fn role(sim: &DeviceSimulation) -> Role {
    let names = Some(vec![sim.name_any()]);
    let rule = |resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![GROUP.to_owned()]),
        resources: Some(vec![resource.to_owned()]),
        resource_names: names.clone(),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    Role {
        metadata: owned_meta(sim),
        rules: Some(vec![
            rule("devicesimulations", &["get", "list", "watch"]),
            rule("devicesimulations/status", &["patch"]),
        ]),
    }
}

/// Binds the workers' Role to their ServiceAccount.
pub fn role_binding(sim: &DeviceSimulation) -> RoleBinding {
    RoleBinding {
        metadata: owned_meta(sim),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: access_name(sim),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: access_name(sim),
            namespace: sim.namespace(),
            ..Subject::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_simulation;

    fn sim(name: &str) -> DeviceSimulation {
        let mut sim = parse_simulation(&format!(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: {name}\n  namespace: iot\nspec:\n  devices: 10\n"
        ))
        .expect("fixture parses");
        sim.metadata.uid = Some("uid-1".into());
        sim
    }

    #[test]
    fn the_role_names_only_its_own_simulation_and_grants_no_writes_but_status() {
        let role = role(&sim("line-a"));
        let rules = role.rules.expect("rules");
        for rule in &rules {
            assert_eq!(
                rule.resource_names.as_deref(),
                Some(&["line-a".to_owned()][..])
            );
            assert_eq!(
                rule.api_groups.as_deref(),
                Some(&["devsim.io".to_owned()][..])
            );
        }
        let writes: Vec<_> = rules
            .iter()
            .flat_map(|r| {
                r.verbs
                    .iter()
                    .filter(|v| !["get", "list", "watch"].contains(&v.as_str()))
                    .map(|v| (r.resources.clone().unwrap_or_default().join(","), v.clone()))
            })
            .collect();
        assert_eq!(
            writes,
            [("devicesimulations/status".to_owned(), "patch".to_owned())]
        );
    }

    #[test]
    fn the_binding_joins_the_role_to_the_workers_account_in_the_simulation_namespace() {
        let sim = sim("line-b");
        let binding = role_binding(&sim);
        assert_eq!(
            (
                binding.role_ref.kind.as_str(),
                binding.role_ref.name.as_str()
            ),
            ("Role", "line-b-workers")
        );
        let subject = &binding.subjects.expect("subjects")[0];
        assert_eq!(
            (
                subject.kind.as_str(),
                subject.name.as_str(),
                subject.namespace.as_deref()
            ),
            ("ServiceAccount", "line-b-workers", Some("iot"))
        );
        for meta in [
            &binding.metadata,
            &service_account(&sim).metadata,
            &role(&sim).metadata,
        ] {
            let owner = &meta.owner_references.as_ref().expect("owned")[0];
            assert_eq!(
                (owner.kind.as_str(), owner.name.as_str()),
                ("DeviceSimulation", "line-b"),
                "deleted with the simulation"
            );
        }
    }
}
