//! What devsim keeps of librdkafka's statistics: the figures a Kafka operator watches (queue
//! depth, per-broker requests, errors, retries, round-trip times, batch sizes), with labels
//! bounded by the cluster's size.

use rdkafka::statistics::{Statistics, Window};

/// librdkafka's figures for one producer, from its latest statistics report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientFigures {
    /// Messages in the producer's queues, in flight included.
    pub queued_messages: u64,
    /// Bytes of those messages (keys and values).
    pub queued_bytes: u64,
    /// Bytes sent to brokers so far, protocol framing and compression included.
    pub tx_bytes: u64,
    /// The cluster's brokers (bootstrap entries left out: they are not brokers).
    pub brokers: Vec<BrokerFigures>,
    /// Bytes per produce batch of the topic, over the last statistics window.
    pub batch_bytes: Option<Percentiles>,
    /// Messages per produce batch of the topic, over the last statistics window.
    pub batch_messages: Option<Percentiles>,
}

/// One broker as the producer sees it; counts are totals since the producer started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrokerFigures {
    /// librdkafka's name for it, `host:port/id`.
    pub name: String,
    /// The connection is up.
    pub up: bool,
    /// Requests sent.
    pub requests: u64,
    /// Requests that could not be sent or got an error back.
    pub request_errors: u64,
    /// Requests sent again.
    pub retries: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Connections made.
    pub connects: u64,
    /// Connections lost.
    pub disconnects: u64,
    /// Requests sent and waiting for their response.
    pub waiting_requests: u64,
    /// Round-trip time of requests in seconds, over the last statistics window.
    pub rtt_seconds: Option<Percentiles>,
}

/// The median and 99th percentile of a statistics window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The window's percentiles in a unit `per_unit` times larger (a division, so that
    /// 1871 µs reads 0.001871 s, not 0.0018709999999999998); `None` for a window that saw no
    /// value.
    fn of(window: &Window, per_unit: f64) -> Option<Self> {
        (window.cnt > 0).then_some(Self {
            p50: window.p50 as f64 / per_unit,
            p99: window.p99 as f64 / per_unit,
        })
    }
}

impl ClientFigures {
    /// The figures of `statistics` that matter for producing to `topic`.
    pub fn from_statistics(statistics: &Statistics, topic: &str) -> Self {
        let mut brokers: Vec<BrokerFigures> = statistics
            .brokers
            .values()
            .filter(|b| b.nodeid >= 0)
            .map(|b| BrokerFigures {
                name: b.name.clone(),
                up: b.state == "UP",
                requests: b.tx,
                request_errors: b.txerrs,
                retries: b.txretries,
                timeouts: b.req_timeouts,
                connects: b.connects.map_or(0, |n| n.max(0) as u64),
                disconnects: b.disconnects.map_or(0, |n| n.max(0) as u64),
                waiting_requests: b.waitresp_cnt.max(0) as u64,
                // librdkafka measures round trips in microseconds.
                rtt_seconds: b.rtt.as_ref().and_then(|w| Percentiles::of(w, 1e6)),
            })
            .collect();
        brokers.sort_by(|a, b| a.name.cmp(&b.name));
        let topic = statistics.topics.get(topic);
        Self {
            queued_messages: statistics.msg_cnt,
            queued_bytes: statistics.msg_size,
            tx_bytes: u64::try_from(statistics.tx_bytes).unwrap_or(0),
            brokers,
            batch_bytes: topic.and_then(|t| Percentiles::of(&t.batchsize, 1.0)),
            batch_messages: topic.and_then(|t| Percentiles::of(&t.batchcnt, 1.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statistics report as librdkafka 2.x writes it (trimmed to the fields read here), with
    /// a bootstrap entry beside two brokers, one of them down.
    const REPORT: &str = r#"{
      "name": "devsim-plant-0#producer-1", "client_id": "devsim-plant-0", "type": "producer",
      "ts": 1, "time": 1, "age": 1, "replyq": 0, "msg_cnt": 42, "msg_size": 8400,
      "msg_max": 131072, "msg_size_max": 33554432, "simple_cnt": 0, "metadata_cache_cnt": 1,
      "tx": 10, "tx_bytes": 123456, "rx": 10, "rx_bytes": 1000, "txmsgs": 500,
      "txmsg_bytes": 100000, "rxmsgs": 0, "rxmsg_bytes": 0,
      "brokers": {
        "kafka:9092/bootstrap": {"name": "kafka:9092/bootstrap", "nodeid": -1,
          "nodename": "kafka:9092", "source": "configured", "state": "UP", "stateage": 1,
          "outbuf_cnt": 0, "outbuf_msg_cnt": 0, "waitresp_cnt": 0, "waitresp_msg_cnt": 0,
          "tx": 2, "txbytes": 100, "txerrs": 0, "txretries": 0, "txidle": 0, "req_timeouts": 0,
          "rx": 2, "rxbytes": 100, "rxerrs": 0, "rxcorriderrs": 0, "rxpartial": 0, "rxidle": 0,
          "zbuf_grow": 0, "buf_grow": 0, "wakeups": 1, "connects": 1, "disconnects": 0,
          "req": {}, "toppars": {}},
        "kafka-1:9092/1": {"name": "kafka-1:9092/1", "nodeid": 1, "nodename": "kafka-1:9092",
          "source": "learned", "state": "UP", "stateage": 1, "outbuf_cnt": 0,
          "outbuf_msg_cnt": 0, "waitresp_cnt": 3, "waitresp_msg_cnt": 30, "tx": 120,
          "txbytes": 9000, "txerrs": 2, "txretries": 5, "txidle": 0, "req_timeouts": 1,
          "rx": 118, "rxbytes": 900, "rxerrs": 0, "rxcorriderrs": 0, "rxpartial": 0,
          "rxidle": 0, "zbuf_grow": 0, "buf_grow": 0, "wakeups": 1, "connects": 2,
          "disconnects": 1, "req": {}, "toppars": {},
          "rtt": {"min": 100, "max": 9000, "avg": 800, "sum": 8000, "cnt": 10, "stddev": 5,
            "hdrsize": 1, "p50": 700, "p75": 800, "p90": 900, "p95": 950, "p99": 8000,
            "p99_99": 9000, "outofrange": 0}},
        "kafka-2:9092/2": {"name": "kafka-2:9092/2", "nodeid": 2, "nodename": "kafka-2:9092",
          "source": "learned", "state": "DOWN", "stateage": 1, "outbuf_cnt": 0,
          "outbuf_msg_cnt": 0, "waitresp_cnt": 0, "waitresp_msg_cnt": 0, "tx": 0,
          "txbytes": 0, "txerrs": 0, "txretries": 0, "txidle": 0, "req_timeouts": 0, "rx": 0,
          "rxbytes": 0, "rxerrs": 0, "rxcorriderrs": 0, "rxpartial": 0, "rxidle": 0,
          "zbuf_grow": 0, "buf_grow": 0, "wakeups": 0, "connects": 0, "disconnects": 0,
          "req": {}, "toppars": {},
          "rtt": {"min": 0, "max": 0, "avg": 0, "sum": 0, "cnt": 0, "stddev": 0, "hdrsize": 1,
            "p50": 0, "p75": 0, "p90": 0, "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0}}
      },
      "topics": {
        "iot": {"topic": "iot", "age": 1, "metadata_age": 1,
          "batchsize": {"min": 1, "max": 16000, "avg": 4000, "sum": 40000, "cnt": 10,
            "stddev": 1, "hdrsize": 1, "p50": 3500, "p75": 5000, "p90": 9000, "p95": 12000,
            "p99": 15800, "p99_99": 16000, "outofrange": 0},
          "batchcnt": {"min": 1, "max": 80, "avg": 20, "sum": 200, "cnt": 10, "stddev": 1,
            "hdrsize": 1, "p50": 18, "p75": 25, "p90": 40, "p95": 60, "p99": 79, "p99_99": 80,
            "outofrange": 0},
          "partitions": {}}
      }
    }"#;

    fn figures(topic: &str) -> ClientFigures {
        let statistics: Statistics = serde_json::from_str(REPORT).expect("a statistics report");
        ClientFigures::from_statistics(&statistics, topic)
    }

    #[test]
    fn brokers_are_the_cluster_s_own_with_their_totals_and_round_trips_in_seconds() {
        let f = figures("iot");
        assert_eq!(
            (f.queued_messages, f.queued_bytes, f.tx_bytes),
            (42, 8400, 123456)
        );
        let names: Vec<&str> = f.brokers.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            ["kafka-1:9092/1", "kafka-2:9092/2"],
            "no bootstrap entry"
        );
        let one = &f.brokers[0];
        assert!(one.up);
        assert_eq!(
            (one.requests, one.request_errors, one.retries, one.timeouts),
            (120, 2, 5, 1)
        );
        assert_eq!(
            (one.connects, one.disconnects, one.waiting_requests),
            (2, 1, 3)
        );
        let rtt = one.rtt_seconds.expect("a window with values");
        assert!((rtt.p50 - 0.0007).abs() < 1e-12 && (rtt.p99 - 0.008).abs() < 1e-12);
        assert!(!f.brokers[1].up);
        assert_eq!(
            f.brokers[1].rtt_seconds, None,
            "an empty window is no figure"
        );
    }

    #[test]
    fn batch_figures_are_the_topic_s_and_absent_for_another_topic() {
        let f = figures("iot");
        assert_eq!(
            f.batch_bytes,
            Some(Percentiles {
                p50: 3500.0,
                p99: 15800.0
            })
        );
        assert_eq!(
            f.batch_messages,
            Some(Percentiles {
                p50: 18.0,
                p99: 79.0
            })
        );
        let other = figures("elsewhere");
        assert_eq!((other.batch_bytes, other.batch_messages), (None, None));
    }
}
