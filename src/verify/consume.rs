//! Reads a whole topic from the beginning with a plain consumer (no group offsets committed).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::checker::StreamChecker;

/// When to stop reading.
#[derive(Clone, Copy, Debug)]
pub enum StopAt {
    /// At the end offsets the partitions had when reading started.
    EndOffsets,
    /// When no message has arrived for this long (to verify while a producer still runs).
    Idle(Duration),
}

/// Why the topic could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// A Kafka client call failed.
    #[error("{what}: {source}")]
    Kafka {
        /// What was being done.
        what: String,
        /// The client's error.
        source: KafkaError,
    },
    /// The topic does not exist or has no partitions.
    #[error("topic {0} not found (or it has no partitions)")]
    NoTopic(String),
    /// No progress before the deadline.
    #[error("timed out after {0:?} with {1} messages still unread")]
    Timeout(Duration, i64),
}

/// Feeds every message of `topic` to `checker`; `client` says how to reach the brokers
/// ([`crate::kafka::client_config`]).
pub fn consume_topic(
    mut client: ClientConfig,
    topic: &str,
    stop: StopAt,
    timeout: Duration,
    checker: &mut StreamChecker,
) -> Result<(), ConsumeError> {
    let kafka = |what: &str| {
        let what = what.to_owned();
        move |source| ConsumeError::Kafka { what, source }
    };
    let consumer: BaseConsumer = client
        .set("group.id", format!("devsim-verify-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(kafka("creating the consumer"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(kafka("fetching topic metadata"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(ConsumeError::NoTopic(topic.to_owned()));
    }
    let mut remaining = Vec::with_capacity(partitions.len());
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(kafka("fetching end offsets"))?;
        remaining.push((p, high, low));
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .map_err(kafka("assigning partitions"))?;
    }
    consumer
        .assign(&assignment)
        .map_err(kafka("assigning partitions"))?;

    let mut next_offset: std::collections::HashMap<i32, i64> =
        remaining.iter().map(|&(p, _, low)| (p, low)).collect();
    let unread = |next: &std::collections::HashMap<i32, i64>| -> i64 {
        remaining
            .iter()
            .map(|(p, high, _)| (high - next[p]).max(0))
            .sum()
    };
    let mut last_progress = Instant::now();
    loop {
        if let StopAt::EndOffsets = stop
            && unread(&next_offset) == 0
        {
            return Ok(());
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                checker.observe(
                    message.partition(),
                    message.key(),
                    message.payload().unwrap_or(&[]),
                );
                next_offset.insert(message.partition(), message.offset() + 1);
                last_progress = Instant::now();
            }
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
            None => {}
        }
        let idle = last_progress.elapsed();
        match stop {
            StopAt::Idle(limit) if idle >= limit => return Ok(()),
            StopAt::EndOffsets if idle >= timeout => {
                return Err(ConsumeError::Timeout(timeout, unread(&next_offset)));
            }
            _ => {}
        }
    }
}
