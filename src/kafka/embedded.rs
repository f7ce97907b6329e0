//! An embedded Kafka: librdkafka's mock cluster, speaking the real Kafka protocol on 127.0.0.1.
//!
//! The mock cluster is not `Send`, so it lives on a thread of its own; this handle keeps the
//! bootstrap address and sends that thread its orders: take the brokers down or up (an outage
//! that keeps the topic's data, for fault-injection tests), or stop.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

/// A running mock cluster; dropping it shuts the cluster down.
pub struct EmbeddedKafka {
    bootstrap_servers: String,
    orders: Option<mpsc::Sender<Order>>,
    thread: Option<JoinHandle<()>>,
}

/// What the cluster's thread is told to do.
enum Order {
    /// Every broker up (`true`) or down (`false`); answered once done.
    Brokers(bool, mpsc::Sender<Result<(), String>>),
}

/// Why the embedded cluster did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the embedded Kafka: {0}")]
pub struct EmbeddedKafkaError(String);

impl EmbeddedKafka {
    /// Starts `brokers` mock brokers and creates `topic` with `partitions` partitions.
    pub fn start(brokers: u32, topic: &str, partitions: u32) -> Result<Self, EmbeddedKafkaError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (orders_tx, orders_rx) = mpsc::channel::<Order>();
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
                // The handle being dropped ends the loop.
                while let Ok(Order::Brokers(up, done)) = orders_rx.recv() {
                    let result = (1..=brokers as i32).try_for_each(|id| {
                        if up {
                            cluster.broker_up(id)
                        } else {
                            cluster.broker_down(id)
                        }
                        .map_err(|e| format!("broker {id}: {e}"))
                    });
                    let _ = done.send(result);
                }
                drop(cluster);
            })
            .map_err(|e| EmbeddedKafkaError(e.to_string()))?;
        let bootstrap_servers = ready_rx
            .recv()
            .map_err(|_| EmbeddedKafkaError("the cluster thread exited".into()))?
            .map_err(EmbeddedKafkaError)?;
        Ok(Self {
            bootstrap_servers,
            orders: Some(orders_tx),
            thread: Some(thread),
        })
    }

    /// Takes every broker down (connections closed, new ones refused, data kept) or brings
    /// them back up: a Kafka outage on demand.
    pub fn set_brokers_up(&self, up: bool) -> Result<(), EmbeddedKafkaError> {
        let (done_tx, done_rx) = mpsc::channel();
        self.orders
            .as_ref()
            .and_then(|o| o.send(Order::Brokers(up, done_tx)).ok())
            .ok_or_else(|| EmbeddedKafkaError("the cluster thread exited".into()))?;
        done_rx
            .recv()
            .map_err(|_| EmbeddedKafkaError("the cluster thread exited".into()))?
            .map_err(EmbeddedKafkaError)
    }

    /// Comma-separated `127.0.0.1:port` list of the mock brokers.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        drop(self.orders.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
