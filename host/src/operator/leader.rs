//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go does it: the holder renews
//! the lease every third of its duration; another replica takes it over once the record has not
//! changed for a whole duration (measured on its own clock, so clock skew between nodes does not
//! matter); every update carries the `resourceVersion` it read, so two replicas racing for the
//! lease cannot both win (the loser gets 409 Conflict). On shutdown the holder releases the
//! lease so a standby takes over at once.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;

/// Which lease, held by whom, for how long.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    /// This replica's identity (the pod name in a cluster).
    pub identity: String,
    /// How long a lease lasts without renewal; a standby takes over after this.
    pub duration: Duration,
}

impl LeaseConfig {
    /// How often the holder renews, and a standby looks.
    fn retry_period(&self) -> Duration {
        (self.duration / 3).max(Duration::from_millis(100))
    }

    /// A holder that could not renew for this long steps down, before a standby can take over.
    fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }
}

/// The lease record last seen, and when it was first seen in that state.
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    since: Instant,
}

/// Runs the election until `shutdown` turns true, publishing leadership on `leader`; releases
/// the lease on the way out if held.
pub async fn run(
    api: Api<Lease>,
    config: LeaseConfig,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut observed: Option<Observed> = None;
    let mut last_renewal: Option<Instant> = None;
    loop {
        match try_acquire_or_renew(&api, &config, &mut observed).await {
            Ok(true) => {
                last_renewal = Some(Instant::now());
                if !*leader.borrow() {
                    tracing::info!(lease = %config.name, identity = %config.identity, "became the leader");
                }
                leader.send_replace(true);
            }
            Ok(false) => {
                if *leader.borrow() {
                    tracing::warn!(lease = %config.name, "lost the lease to another replica");
                }
                last_renewal = None;
                leader.send_replace(false);
            }
            Err(error) => {
                tracing::warn!(lease = %config.name, error = %error, "cannot read or renew the lease");
                let stale = last_renewal.is_none_or(|at| at.elapsed() > config.renew_deadline());
                if *leader.borrow() && stale {
                    tracing::warn!(lease = %config.name, "could not renew in time; stepping down");
                    leader.send_replace(false);
                }
            }
        }
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(config.retry_period()) => {}
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        match release(&api, &config).await {
            Ok(()) => tracing::info!(lease = %config.name, "released the lease"),
            Err(error) => {
                tracing::warn!(lease = %config.name, error = %error, "cannot release the lease; a standby takes over when it expires");
            }
        }
    }
}

/// One election round: true when this replica holds the lease afterwards.
async fn try_acquire_or_renew(
    api: &Api<Lease>,
    config: &LeaseConfig,
    observed: &mut Option<Observed>,
) -> Result<bool, kube::Error> {
    let now = MicroTime(Timestamp::now());
    let Some(lease) = api.get_opt(&config.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(config.name.clone()),
                namespace: Some(config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(held_by(config, now.clone(), now, 0)),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        };
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec
        .holder_identity
        .clone()
        .filter(|holder| !holder.is_empty());
    let changed = observed
        .as_ref()
        .is_none_or(|seen| seen.holder != holder || seen.renew_time != spec.renew_time);
    if changed {
        *observed = Some(Observed {
            holder: holder.clone(),
            renew_time: spec.renew_time.clone(),
            since: Instant::now(),
        });
    }
    let mine = holder.as_deref() == Some(config.identity.as_str());
    let duration = spec
        .lease_duration_seconds
        .map_or(config.duration, |seconds| {
            Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
        });
    let expired = observed
        .as_ref()
        .is_some_and(|seen| seen.since.elapsed() >= duration);
    if holder.is_some() && !mine && !expired {
        return Ok(false);
    }
    let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!mine);
    let acquired = if mine {
        spec.acquire_time.clone().unwrap_or_else(|| now.clone())
    } else {
        now.clone()
    };
    let mut update = lease;
    update.spec = Some(held_by(config, acquired, now, transitions));
    match api
        .replace(&config.name, &PostParams::default(), &update)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

fn held_by(
    config: &LeaseConfig,
    acquired: MicroTime,
    renewed: MicroTime,
    transitions: i32,
) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(
            i32::try_from(config.duration.as_secs().max(1)).unwrap_or(i32::MAX),
        ),
        acquire_time: Some(acquired),
        renew_time: Some(renewed),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// Gives the lease up: no holder, and a one-second duration so standbys take it at once.
async fn release(api: &Api<Lease>, config: &LeaseConfig) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&config.name).await? else {
        return Ok(());
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    api.replace(&config.name, &PostParams::default(), &lease)
        .await
        .map(|_| ())
}
