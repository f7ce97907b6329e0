//! Responses built byte by byte as the Kafka protocol guide lays them out, independently of the
//! relay's own writer.

use super::*;

fn be16(v: i16) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}
fn be32(v: i32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}
/// A classic string (i16 length).
fn s16(s: &str) -> Vec<u8> {
    [be16(s.len() as i16), s.as_bytes().to_vec()].concat()
}
/// A compact string (unsigned varint length + 1; all lengths here fit one byte).
fn compact(s: &str) -> Vec<u8> {
    [vec![s.len() as u8 + 1], s.as_bytes().to_vec()].concat()
}

/// Moves port 9001 to relay.example:19001; everything else stays.
fn map(host: &str, port: i32) -> Option<(String, i32)> {
    (host == "127.0.0.1" && port == 9001).then(|| ("relay.example".to_owned(), 19001))
}

/// A Metadata v1 response: correlation 7, brokers 1 (127.0.0.1:9001, rack "r1") and 2
/// (10.0.0.9:9002, no rack), then `tail` (controller id and topics), which must survive as is.
fn metadata_v1(host1: &str, port1: i32) -> (Vec<u8>, Vec<u8>) {
    let tail = [be32(1), be32(0)].concat(); // controller_id 1, no topics
    let frame = [
        be32(7),
        be32(2),
        be32(1),
        s16(host1),
        be32(port1),
        s16("r1"),
        be32(2),
        s16("10.0.0.9"),
        be32(9002),
        be16(-1),
        tail.clone(),
    ]
    .concat();
    (frame, tail)
}

#[test]
fn a_classic_metadata_response_advertises_the_relay_and_keeps_the_rest() {
    let (frame, _) = metadata_v1("127.0.0.1", 9001);
    let (expected, _) = metadata_v1("relay.example", 19001);
    assert_eq!(rewrite_response(METADATA, 1, &frame, &map), Ok(expected));
}

#[test]
fn a_flexible_metadata_response_keeps_its_tagged_fields() {
    let broker = |host: &str, port: i32| {
        [
            be32(1),
            compact(host),
            be32(port),
            vec![0],             // rack: null
            vec![1, 5, 2, 9, 9], // one tagged field: tag 5, 2 bytes
        ]
        .concat()
    };
    let frame = |host: &str, port: i32| {
        [
            be32(42),
            vec![0],   // response header v1: no tagged fields
            be32(250), // throttle_time_ms
            vec![2],   // one broker
            broker(host, port),
            compact("cluster-id"), // the rest: cluster id, ...
            be32(1),
        ]
        .concat()
    };
    assert_eq!(
        rewrite_response(METADATA, 12, &frame("127.0.0.1", 9001), &map),
        Ok(frame("relay.example", 19001))
    );
}

#[test]
fn find_coordinator_answers_name_the_relay_in_both_layouts() {
    let v2 = |host: &str, port: i32| {
        [
            be32(3),
            be32(0),
            be16(0),
            be16(-1),
            be32(1),
            s16(host),
            be32(port),
        ]
        .concat()
    };
    assert_eq!(
        rewrite_response(FIND_COORDINATOR, 2, &v2("127.0.0.1", 9001), &map),
        Ok(v2("relay.example", 19001))
    );
    let v4 = |host: &str, port: i32| {
        [
            be32(3),
            vec![0],
            be32(0),
            vec![2], // one coordinator
            compact("group-a"),
            be32(1),
            compact(host),
            be32(port),
            be16(0),
            vec![0], // error message: null
            vec![0], // no tagged fields
            vec![0], // body: no tagged fields
        ]
        .concat()
    };
    assert_eq!(
        rewrite_response(FIND_COORDINATOR, 4, &v4("127.0.0.1", 9001), &map),
        Ok(v4("relay.example", 19001))
    );
}

#[test]
fn a_truncated_or_lying_response_is_refused_not_guessed() {
    let (frame, _) = metadata_v1("127.0.0.1", 9001);
    for cut in [3, 10, 20] {
        assert!(
            rewrite_response(METADATA, 1, &frame[..cut], &map).is_err(),
            "cut at {cut}"
        );
    }
    let lying = [be32(7), be32(1_000_000)].concat();
    assert_eq!(
        rewrite_response(METADATA, 1, &lying, &map),
        Err(Malformed("array longer than the frame"))
    );
}

#[test]
fn headers_are_read_where_kafka_puts_them() {
    let request = [be16(3), be16(12), be32(99), s16("client")].concat();
    assert_eq!(request_header(&request), Some((3, 12, 99)));
    assert_eq!(request_header(&request[..5]), None);
    assert_eq!(response_correlation(&be32(-5)), Some(-5));
    assert!(names_brokers(METADATA) && names_brokers(FIND_COORDINATOR) && !names_brokers(0));
}
