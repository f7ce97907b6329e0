//! An embedded Kafka: librdkafka's mock cluster, speaking the real Kafka protocol on 127.0.0.1.
//!
//! The mock cluster is not `Send`, so it lives on a thread of its own; this handle keeps the
//! bootstrap address and sends that thread its orders: the faults of [`Fault`], for
//! fault-injection tests and for trying alerts out, or stop.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

/// How many produce requests [`Fault::RefuseProduce`] refuses at most: the mock cluster keeps
/// one entry per refusal to come (at a few hundred requests a second, minutes of refusals).
pub const REFUSALS: usize = 100_000;

/// A fault the embedded cluster can be told to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every broker down: connections closed, new ones refused, data kept (an outage).
    BrokersDown,
    /// Every broker back up.
    BrokersUp,
    /// The brokers answer produce requests with MESSAGE_TOO_LARGE, a permanent error, so every
    /// message fails (up to [`REFUSALS`] requests).
    RefuseProduce,
    /// The brokers accept produce requests again.
    AcceptProduce,
    /// Every broker delays its responses by this much (zero: no delay).
    RoundTrip(Duration),
    /// The next this many produce requests are answered with a transient error, which the
    /// producer retries (the order librdkafka's mock cluster keeps them in).
    ProduceErrors(TransientError, u32),
    /// Every partition's leader moves to the next broker (a leader election on each).
    MoveLeaders,
}

/// Transient produce errors, which a producer retries without losing or (with idempotence)
/// duplicating a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransientError {
    /// NOT_LEADER_OR_FOLLOWER: the broker no longer leads the partition.
    NotLeader,
    /// NOT_ENOUGH_REPLICAS: too few in-sync replicas for acks=all.
    NotEnoughReplicas,
    /// The broker closes the connection instead of answering.
    Disconnect,
}

impl TransientError {
    fn code(self) -> RDKafkaRespErr {
        match self {
            Self::NotLeader => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            Self::NotEnoughReplicas => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            Self::Disconnect => RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
        }
    }
}

/// A running mock cluster; dropping it shuts the cluster down.
pub struct EmbeddedKafka {
    bootstrap_servers: String,
    orders: Option<mpsc::Sender<Order>>,
    thread: Option<JoinHandle<()>>,
}

/// What the cluster's thread is told to do, and where to answer once done.
type Order = (Fault, mpsc::Sender<Result<(), String>>);

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
                let shape = Shape {
                    brokers: brokers as i32,
                    topic,
                    partitions: partitions as i32,
                };
                let mut moves = 0;
                while let Ok((fault, done)) = orders_rx.recv() {
                    if fault == Fault::MoveLeaders {
                        moves += 1;
                    }
                    let _ = done.send(apply(&cluster, &shape, fault, moves));
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

    /// Shows `fault` from now on, until another fault undoes it.
    pub fn inject(&self, fault: Fault) -> Result<(), EmbeddedKafkaError> {
        let (done_tx, done_rx) = mpsc::channel();
        self.orders
            .as_ref()
            .and_then(|o| o.send((fault, done_tx)).ok())
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

/// The cluster's brokers (IDs 1..=brokers) and its topic.
struct Shape {
    brokers: i32,
    topic: String,
    partitions: i32,
}

/// Applies `fault` to `cluster`; `moves` counts the leader moves so far, this one included.
fn apply(
    cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
    shape: &Shape,
    fault: Fault,
    moves: i32,
) -> Result<(), String> {
    let brokers = shape.brokers;
    let each = |f: &dyn Fn(i32) -> rdkafka::error::KafkaResult<()>| {
        (1..=brokers).try_for_each(|id| f(id).map_err(|e| format!("broker {id}: {e}")))
    };
    match fault {
        Fault::BrokersDown => each(&|id| cluster.broker_down(id)),
        Fault::BrokersUp => each(&|id| cluster.broker_up(id)),
        Fault::RefuseProduce => {
            cluster.request_errors(
                RDKafkaApiKey::Produce,
                &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; REFUSALS],
            );
            Ok(())
        }
        Fault::AcceptProduce => {
            cluster.clear_request_errors(RDKafkaApiKey::Produce);
            Ok(())
        }
        Fault::RoundTrip(delay) => each(&|id| cluster.broker_round_trip_time(id, delay)),
        Fault::ProduceErrors(error, count) => {
            cluster.request_errors(RDKafkaApiKey::Produce, &vec![error.code(); count as usize]);
            Ok(())
        }
        Fault::MoveLeaders => (0..shape.partitions).try_for_each(|p| {
            // Partition p starts led by broker p % brokers + 1 (the mock's own spread does
            // not matter: each move hands every partition to another broker than before).
            let leader = (p + moves) % brokers + 1;
            cluster
                .partition_leader(&shape.topic, p, Some(leader))
                .map_err(|e| format!("partition {p} to broker {leader}: {e}"))
        }),
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
