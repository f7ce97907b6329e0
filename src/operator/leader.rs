//! Leader election through a coordination.k8s.io/v1 Lease, so that only one of several operator
//! replicas reconciles. The holder renews the lease every few seconds; another replica takes it
//! over only after it has gone unrenewed for the whole lease duration.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

/// How long a lease holds without renewal.
const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews, and a candidate retries.
const RENEW_PERIOD: Duration = Duration::from_secs(5);

/// A candidate for the lease `name`.
pub struct LeaderElection {
    leases: Api<Lease>,
    name: String,
    identity: String,
}

impl LeaderElection {
    /// A candidate called `identity` (the pod name) for the lease `name` in `leases`' namespace.
    pub fn new(leases: Api<Lease>, name: &str, identity: &str) -> Self {
        Self {
            leases,
            name: name.to_owned(),
            identity: identity.to_owned(),
        }
    }

    /// Waits until this process holds the lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_hold().await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became the leader");
                    return;
                }
                Ok(false) => tracing::debug!(lease = %self.name, "another replica leads; waiting"),
                Err(e) => {
                    tracing::warn!(error = %e, "leader election: cannot read or write the lease")
                }
            }
            tokio::time::sleep(RENEW_PERIOD).await;
        }
    }

    /// Renews the lease until renewal fails for longer than the lease lasts; then returns, and
    /// the caller must stop acting as leader.
    pub async fn hold(&self) {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(RENEW_PERIOD).await;
            match self.try_hold().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!(lease = %self.name, "lost the lease to another replica");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew the lease");
                    if last_renewal.elapsed() >= LEASE_DURATION {
                        tracing::error!(lease = %self.name, "lease expired without renewal");
                        return;
                    }
                }
            }
        }
    }

    /// Takes or renews the lease if it is free, expired or ours; Ok(false) if someone else holds it.
    async fn try_hold(&self) -> Result<bool, kube::Error> {
        let existing = self.leases.get_opt(&self.name).await?;
        let current = existing
            .as_ref()
            .map(|l| l.spec.clone().unwrap_or_default());
        let LeaseDecision::Write(spec) = decide(current.as_ref(), &self.identity, Timestamp::now())
        else {
            return Ok(false);
        };
        let written = match existing {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.leases.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                lease.spec = Some(spec);
                // `replace` carries the resourceVersion we read: a concurrent writer makes this
                // fail, and the other candidate wins.
                self.leases
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (on a clean shutdown), so that a standby replica takes over at its
    /// next retry instead of waiting for the lease to expire.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.leases.get_opt(&self.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        match self
            .leases
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.name, "released the lease"),
            Err(e) => tracing::warn!(error = %e, "cannot release the lease; it will expire"),
        }
    }
}

/// What a candidate does with the lease it read.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseDecision {
    /// Another replica holds it: wait.
    Wait,
    /// Write this spec (create, take over or renew): the candidate leads if the write wins.
    Write(LeaseSpec),
}

/// The lease decision of candidate `identity` at `now`, given the lease's current spec (None:
/// no lease yet). A lease is free when nobody holds it (a clean release), when its holder has
/// not renewed it for its own `leaseDurationSeconds`, or when it is ours.
pub fn decide(current: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> LeaseDecision {
    let spec = |acquired, transitions| LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
        acquire_time: Some(MicroTime(acquired)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let Some(current) = current else {
        return LeaseDecision::Write(spec(now, 0));
    };
    let transitions = current.lease_transitions.unwrap_or(0);
    if current.holder_identity.as_deref() == Some(identity) {
        let acquired = current.acquire_time.as_ref().map_or(now, |t| t.0);
        return LeaseDecision::Write(spec(acquired, transitions));
    }
    let duration = SignedDuration::from_secs(i64::from(
        current
            .lease_duration_seconds
            .unwrap_or(LEASE_DURATION.as_secs() as i32),
    ));
    let expired = current
        .renew_time
        .as_ref()
        .is_none_or(|t| t.0 + duration < now);
    let released = current.holder_identity.is_none();
    if expired || released {
        LeaseDecision::Write(spec(now, transitions + 1))
    } else {
        LeaseDecision::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    fn held_by(holder: Option<&str>, renewed: &str, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_owned),
            lease_duration_seconds: Some(seconds),
            acquire_time: Some(MicroTime(at("2026-11-25T11:00:00Z"))),
            renew_time: Some(MicroTime(at(renewed))),
            lease_transitions: Some(4),
            ..LeaseSpec::default()
        }
    }

    fn written(decision: LeaseDecision) -> LeaseSpec {
        match decision {
            LeaseDecision::Write(spec) => spec,
            LeaseDecision::Wait => panic!("expected a write, got Wait"),
        }
    }

    const NOW: &str = "2026-11-25T12:00:00Z";

    #[test]
    fn the_first_candidate_creates_the_lease() {
        let spec = written(decide(None, "a", at(NOW)));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(
            (spec.acquire_time, spec.renew_time.clone()),
            (Some(MicroTime(at(NOW))), Some(MicroTime(at(NOW))))
        );
        assert_eq!(spec.lease_transitions, Some(0));
    }

    #[test]
    fn the_holder_renews_keeping_its_acquire_time_and_the_count() {
        let spec = written(decide(
            Some(&held_by(Some("a"), "2026-11-25T11:59:55Z", 15)),
            "a",
            at(NOW),
        ));
        assert_eq!(
            spec.acquire_time,
            Some(MicroTime(at("2026-11-25T11:00:00Z")))
        );
        assert_eq!(spec.renew_time, Some(MicroTime(at(NOW))));
        assert_eq!(spec.lease_transitions, Some(4));
    }

    #[test]
    fn a_live_lease_of_another_replica_is_left_alone() {
        let live = held_by(Some("b"), "2026-11-25T11:59:50Z", 15);
        assert_eq!(decide(Some(&live), "a", at(NOW)), LeaseDecision::Wait);
        // Its own duration counts, not ours: a 60 s lease renewed 30 s ago still holds.
        let long = held_by(Some("b"), "2026-11-25T11:59:30Z", 60);
        assert_eq!(decide(Some(&long), "a", at(NOW)), LeaseDecision::Wait);
    }

    #[test]
    fn an_expired_or_released_lease_is_taken_over_and_counted() {
        for free in [
            held_by(Some("b"), "2026-11-25T11:59:44Z", 15),
            held_by(None, "2026-11-25T11:59:59Z", 15),
        ] {
            let spec = written(decide(Some(&free), "a", at(NOW)));
            assert_eq!(spec.holder_identity.as_deref(), Some("a"));
            assert_eq!(spec.acquire_time, Some(MicroTime(at(NOW))));
            assert_eq!(spec.lease_transitions, Some(5));
        }
    }
}
