//! The worker's view of its simulation: the latest version, kept in a watch channel.

use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use super::Latest;
use crate::crd::DeviceSimulation;

/// Keeps the latest version of the simulation in a watch channel.
pub(super) fn watch_simulation(api: Api<DeviceSimulation>, name: &str) -> Latest {
    let (latest_tx, latest) = watch::channel(None);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher(api, config).default_backoff().applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(sim) => {
                    let _ = latest_tx.send(Some(Arc::new(sim)));
                }
                Err(e) => tracing::warn!(error = %e, "watching the simulation"),
            }
        }
    });
    latest
}
