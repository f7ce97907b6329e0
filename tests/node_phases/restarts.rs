//! Scenarios 2 to 4: pods that come and go through the scheduler, the kubelet and the
//! Deployment controller, judged by `devsim verify`.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::install::helm;
use super::{
    DEVICES, Node, OPERATOR_NS, PLANT_WORKERS, RELEASE, SIM_NS, names, plant_settled, pods,
    ready_pods, status,
};
use crate::common;
use crate::e2e_support::eventually;

const OPERATOR_PODS: &str = "app.kubernetes.io/name=devsim,app.kubernetes.io/instance=devsim";

/// Checks the topic: no (device, seq) twice; returns the report's (messages, missing).
fn verified(n: &Node, after: &str) -> (u64, u64) {
    let (code, report, stderr) = n.verify(&[]);
    let duplicates = common::report_value(&report, "duplicates");
    assert_eq!(duplicates, 0, "{after}: duplicates\n{report}\n{stderr}");
    let figures = (
        common::report_value(&report, "messages"),
        common::report_value(&report, "missing (gaps)"),
    );
    // Gaps are allowed here (and counted by the caller); anything else must pass.
    assert!(
        code == Some(0) || (code == Some(1) && figures.1 > 0 && !report.contains("FAIL: expected")),
        "{after}: verify failed\n{report}\n{stderr}"
    );
    eprintln!(
        "node: verify after {after}: {} messages, 0 duplicates, {} missing",
        figures.0, figures.1
    );
    figures
}

/// Scenario 2: `kubectl scale` 2 -> 3 -> 1 -> 2. Each new pod is scheduled and started, each
/// removed one stopped with SIGTERM; the hand-offs between shards repeat nothing and lose
/// nothing.
pub async fn scale_through_the_scheduler(n: &mut Node) {
    for replicas in [3u32, 1, 2] {
        let started = Instant::now();
        n.cluster.kubectl_ok(&[
            "scale",
            "devsim/plant",
            "-n",
            SIM_NS,
            &format!("--replicas={replicas}"),
        ]);
        ready_pods(
            &n.pods,
            PLANT_WORKERS,
            replicas as usize,
            Duration::from_secs(90),
        )
        .await;
        let pods_done = started.elapsed();
        plant_settled(&n.sims, replicas, Duration::from_secs(90)).await;
        eprintln!(
            "node: scaled to {replicas}: pods in {:.1} s, shards confirmed at full rate in {:.1} s",
            pods_done.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    let (messages, missing) = verified(n, "2 -> 3 -> 1 -> 2");
    // Every device through every hand-off: at least ten readings each (5 s of schedule),
    // whatever the scaling took.
    assert!(messages >= 10 * u64::from(DEVICES), "{messages} messages");
    assert_eq!(
        missing, 0,
        "the hand-offs are exact: nothing may be missing"
    );
}

/// Scenario 3: a worker pod deleted (SIGTERM, its grace period, a new pod) and a worker
/// container killed from outside with SIGKILL (the kubelet restarts it in place).
pub async fn worker_pod_deleted_and_container_killed(n: &mut Node) {
    let before = pods(&n.pods, PLANT_WORKERS).await;
    let old = before
        .iter()
        .find(|p| p.name_any() == "plant-workers-1")
        .expect("plant-workers-1")
        .uid();
    let started = Instant::now();
    n.cluster
        .kubectl_ok(&["delete", "pod", "plant-workers-1", "-n", SIM_NS]);
    let deleted_in = started.elapsed();
    let after = ready_pods(&n.pods, PLANT_WORKERS, 2, Duration::from_secs(90)).await;
    let replaced = after
        .iter()
        .find(|p| p.name_any() == "plant-workers-1")
        .expect("plant-workers-1 again");
    assert_ne!(replaced.uid(), old, "the StatefulSet made a new pod");
    plant_settled(&n.sims, 2, Duration::from_secs(60)).await;
    eprintln!(
        "node: worker pod deleted: gone after {:.1} s (graceful), new pod Ready and the full rate back {:.1} s after the delete",
        deleted_in.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let pod = n
        .pods
        .get("plant-workers-0")
        .await
        .expect("plant-workers-0");
    let container = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.into_iter().next())
        .expect("a container status");
    let id = container
        .container_id
        .as_deref()
        .and_then(|id| id.strip_prefix("containerd://"))
        .expect("a containerd container id")
        .to_owned();
    let started = Instant::now();
    n.ctr(&["tasks", "kill", "--signal", "SIGKILL", &id]);
    let restarted = eventually(
        "the kubelet restarted the killed container",
        Duration::from_secs(60),
        || async {
            let pod = n.pods.get("plant-workers-0").await.ok()?;
            let restarts = pod
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .restart_count;
            (restarts > container.restart_count && super::running_and_ready(&pod))
                .then_some(restarts)
        },
    )
    .await;
    plant_settled(&n.sims, 2, Duration::from_secs(60)).await;
    let s = status(&n.sims, "plant").await;
    eprintln!(
        "node: container killed: restarted by the kubelet (restartCount {restarted}), full rate back in {:.1} s; status sent {} delivered {}",
        started.elapsed().as_secs_f64(),
        s.totals.messages_sent,
        s.totals.messages_delivered
    );
    // A killed worker's readings during its downtime are never produced (it resumes on the
    // schedule): gaps, counted; never a reading twice.
    verified(n, "a pod deleted and a container killed");
}

/// Scenario 4: the operator's pod deleted mid-run (the Deployment brings a new one, which takes
/// the Lease over; no second StatefulSet; totals carry on), then two operator replicas: one
/// leader.
pub async fn operator_pod_deleted_and_two_replicas(n: &mut Node) {
    let operators: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(n.client.clone(), OPERATOR_NS);
    let old = ready_pods(&operators, OPERATOR_PODS, 1, Duration::from_secs(10)).await;
    let before = status(&n.sims, "plant").await.totals.messages_sent;
    let started = Instant::now();
    n.cluster
        .kubectl_ok(&["delete", "pod", &old[0].name_any(), "-n", OPERATOR_NS]);
    let new = ready_pods(&operators, OPERATOR_PODS, 1, Duration::from_secs(90)).await;
    assert_ne!(new[0].name_any(), old[0].name_any());
    let leases: Api<Lease> = Api::namespaced(n.client.clone(), OPERATOR_NS);
    let holder = |leases: Api<Lease>| async move {
        leases
            .get("devsim-operator")
            .await
            .ok()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    };
    let new_name = new[0].name_any();
    eventually(
        "the new operator pod leads",
        Duration::from_secs(60),
        || {
            let leases = leases.clone();
            let new_name = new_name.clone();
            async move { (holder(leases).await? == new_name).then_some(()) }
        },
    )
    .await;
    let led_in = started.elapsed();
    // The new leader reconciles: the totals it writes move on from where they were.
    eventually(
        "the status moves on under the new operator",
        Duration::from_secs(30),
        || async { (status(&n.sims, "plant").await.totals.messages_sent > before).then_some(()) },
    )
    .await;
    let sets: Api<StatefulSet> = Api::namespaced(n.client.clone(), SIM_NS);
    let owned = sets
        .list(&ListParams::default().labels("devsim.io/simulation=plant"))
        .await
        .expect("list StatefulSets");
    assert_eq!(owned.items.len(), 1, "one StatefulSet for plant");
    plant_settled(&n.sims, 2, Duration::from_secs(30)).await;
    eprintln!(
        "node: operator pod deleted: new pod {} Ready and leading {:.1} s later; one StatefulSet; totals carried on",
        new_name,
        led_in.as_secs_f64()
    );

    helm(
        n,
        &[
            "upgrade",
            RELEASE,
            "charts/devsim",
            "--namespace",
            OPERATOR_NS,
            "--reuse-values",
            "--set",
            "replicaCount=2",
        ],
    );
    let two = ready_pods(&operators, OPERATOR_PODS, 2, Duration::from_secs(90)).await;
    let leader = eventually("a leader among two", Duration::from_secs(60), || {
        let leases = leases.clone();
        async move { holder(leases).await }
    })
    .await;
    assert!(
        names(&two).contains(&leader),
        "{leader} is not one of {:?}",
        names(&two)
    );
    // Each replica's own word, from its /metrics on its pod IP.
    let mut leading = Vec::new();
    for pod in &two {
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .expect("a pod IP");
        let metrics = eventually("the operator's /metrics", Duration::from_secs(20), || {
            let ip = ip.clone();
            async move { common::http_get(&format!("{ip}:8080"), "/metrics") }
        })
        .await;
        let gauge = metrics
            .lines()
            .find_map(|l| l.strip_prefix("devsim_operator_leader "))
            .unwrap_or_else(|| panic!("no devsim_operator_leader in {ip}'s metrics"))
            .trim()
            .to_owned();
        leading.push((pod.name_any(), gauge));
    }
    let leaders: Vec<_> = leading.iter().filter(|(_, g)| g == "1").collect();
    assert_eq!(leaders.len(), 1, "exactly one leader: {leading:?}");
    assert_eq!(leaders[0].0, leader, "{leading:?}");
    eprintln!("node: two operator replicas, one leader: {leading:?}");
}
