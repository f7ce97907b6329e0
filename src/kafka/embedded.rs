//! An embedded Kafka: librdkafka's mock cluster, speaking the real Kafka protocol on 127.0.0.1.
//!
//! The mock cluster is not `Send`, so it lives on a thread of its own; this handle only keeps
//! the bootstrap address and a way to stop that thread.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

/// A running mock cluster; dropping it shuts the cluster down.
pub struct EmbeddedKafka {
    bootstrap_servers: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Why the embedded cluster did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the embedded Kafka: {0}")]
pub struct EmbeddedKafkaError(String);

impl EmbeddedKafka {
    /// Starts `brokers` mock brokers and creates `topic` with `partitions` partitions.
    pub fn start(brokers: u32, topic: &str, partitions: u32) -> Result<Self, EmbeddedKafkaError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let topic = topic.to_owned();
        let thread = std::thread::Builder::new()
            .name("embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(brokers as i32) {
                    Ok(cluster) => cluster,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                if let Err(e) = cluster.create_topic(&topic, partitions as i32, 1) {
                    let _ = ready_tx.send(Err(format!("creating topic {topic}: {e}")));
                    return;
                }
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                // Either a stop message or the handle being dropped ends the wait.
                let _ = stop_rx.recv();
                drop(cluster);
            })
            .map_err(|e| EmbeddedKafkaError(e.to_string()))?;
        let bootstrap_servers = ready_rx
            .recv()
            .map_err(|_| EmbeddedKafkaError("the cluster thread exited".into()))?
            .map_err(EmbeddedKafkaError)?;
        Ok(Self {
            bootstrap_servers,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Comma-separated `127.0.0.1:port` list of the mock brokers.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
