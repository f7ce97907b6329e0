//! The pure part of `devsim verify`: feed it messages in partition order, get a report.

use std::collections::HashMap;
use std::fmt;

use super::decode::{DecodedReading, decode};
use crate::engine::plan::{Encoding, SimulationPlan};
use crate::engine::sensor::SensorKind;

/// Examples of each problem kept for the report.
const EXAMPLES: usize = 20;

/// Per-device tracking: a few words per device, whatever the stream length.
#[derive(Debug)]
struct DeviceTrack {
    partition: i32,
    first_seq: u64,
    last_seq: u64,
    messages: u64,
    /// Missing ranges [from, to] not yet filled by a late message.
    gaps: Vec<(u64, u64)>,
}

/// Value ranges to check readings against.
#[derive(Debug, Default)]
pub struct Ranges {
    by_sensor: HashMap<(String, String), (f64, f64)>,
}

impl Ranges {
    /// The ranges of a simulation's sensors, by (profile, sensor name).
    pub fn from_plan(plan: &SimulationPlan) -> Self {
        let mut by_sensor = HashMap::new();
        for p in &plan.profiles {
            for s in &p.sensors {
                by_sensor.insert(
                    (p.name.clone(), s.name.clone()),
                    (s.params.min, s.params.max),
                );
            }
        }
        Self { by_sensor }
    }

    fn range(&self, profile: &str, name: &str, kind: &str) -> Option<(f64, f64)> {
        self.by_sensor
            .get(&(profile.to_owned(), name.to_owned()))
            .copied()
            .or_else(|| SensorKind::parse(kind).map(|k| (k.defaults().min, k.defaults().max)))
    }
}

/// Accumulates what a topic holds and what is wrong with it.
#[derive(Debug)]
pub struct StreamChecker {
    encoding: Encoding,
    ranges: Ranges,
    devices: HashMap<String, DeviceTrack>,
    /// The report so far.
    pub report: VerifyReport,
}

/// What `devsim verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Messages read.
    pub messages: u64,
    /// Distinct devices seen.
    pub devices: u64,
    /// Messages that did not decode.
    pub undecodable: u64,
    /// Messages whose (device, seq) was already seen.
    pub duplicates: u64,
    /// Messages that arrived after a later sequence number of their device but filled a gap.
    pub reordered: u64,
    /// Missing sequence numbers between the first and last seen of each device.
    pub missing: u64,
    /// Devices found in more than one partition.
    pub partition_violations: u64,
    /// Values outside their sensor's range.
    pub out_of_range: u64,
    /// Messages whose key is not their device ID.
    pub key_mismatches: u64,
    /// Readings flagged anomalous.
    pub anomalies: u64,
    /// Examples of each problem, for the person reading the report.
    pub examples: Vec<String>,
    /// Missing ranges, `device: from..=to`, first few.
    pub gap_examples: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing is wrong apart from gaps (which a rescale or a drop policy can cause).
    pub fn is_clean(&self) -> bool {
        self.undecodable == 0
            && self.duplicates == 0
            && self.reordered == 0
            && self.partition_violations == 0
            && self.out_of_range == 0
            && self.key_mismatches == 0
    }

    fn example(&mut self, text: String) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(text);
        }
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "messages             {}", self.messages)?;
        writeln!(f, "devices              {}", self.devices)?;
        writeln!(f, "undecodable          {}", self.undecodable)?;
        writeln!(f, "duplicates           {}", self.duplicates)?;
        writeln!(f, "reordered            {}", self.reordered)?;
        writeln!(f, "missing (gaps)       {}", self.missing)?;
        writeln!(f, "partition violations {}", self.partition_violations)?;
        writeln!(f, "out of range         {}", self.out_of_range)?;
        writeln!(f, "key mismatches       {}", self.key_mismatches)?;
        let rate = self.anomalies as f64 / self.messages.max(1) as f64;
        writeln!(
            f,
            "anomalies            {} ({:.3} %)",
            self.anomalies,
            rate * 100.0
        )?;
        for e in &self.examples {
            writeln!(f, "  problem: {e}")?;
        }
        for g in &self.gap_examples {
            writeln!(f, "  gap: {g}")?;
        }
        Ok(())
    }
}

impl StreamChecker {
    /// A checker for messages in `encoding`, with values checked against `ranges`.
    pub fn new(encoding: Encoding, ranges: Ranges) -> Self {
        Self {
            encoding,
            ranges,
            devices: HashMap::new(),
            report: VerifyReport::default(),
        }
    }

    /// Checks one message. Messages of one partition must come in offset order.
    pub fn observe(&mut self, partition: i32, key: Option<&[u8]>, payload: &[u8]) {
        self.report.messages += 1;
        let reading = match decode(self.encoding, payload) {
            Ok(r) => r,
            Err(e) => {
                self.report.undecodable += 1;
                self.report
                    .example(format!("partition {partition}: undecodable message: {e}"));
                return;
            }
        };
        if key != Some(reading.device_id.as_bytes()) {
            self.report.key_mismatches += 1;
            let key = key.map(String::from_utf8_lossy);
            self.report.example(format!(
                "{}: key {key:?} is not the device ID",
                reading.device_id
            ));
        }
        self.check_values(&reading);
        if reading.anomaly {
            self.report.anomalies += 1;
        }
        self.track(partition, &reading);
    }

    fn check_values(&mut self, r: &DecodedReading) {
        for v in &r.values {
            let Some((min, max)) = self.ranges.range(&r.profile, &v.name, &v.kind) else {
                continue;
            };
            let is_switch = v.kind == SensorKind::Switch.as_str();
            let ok = if is_switch {
                v.value == 0.0 || v.value == 1.0
            } else {
                (min..=max).contains(&v.value)
            };
            if !ok {
                self.report.out_of_range += 1;
                self.report.example(format!(
                    "{} seq {}: {} = {} outside [{min}, {max}]",
                    r.device_id, r.seq, v.name, v.value
                ));
            }
        }
    }

    fn track(&mut self, partition: i32, r: &DecodedReading) {
        let Some(track) = self.devices.get_mut(&r.device_id) else {
            self.report.devices += 1;
            self.devices.insert(
                r.device_id.clone(),
                DeviceTrack {
                    partition,
                    first_seq: r.seq,
                    last_seq: r.seq,
                    messages: 1,
                    gaps: Vec::new(),
                },
            );
            return;
        };
        track.messages += 1;
        if track.partition != partition {
            self.report.partition_violations += 1;
            let text = format!(
                "{} in partition {partition} and {}",
                r.device_id, track.partition
            );
            self.report.example(text);
        }
        if r.seq > track.last_seq {
            if r.seq > track.last_seq + 1 {
                track.gaps.push((track.last_seq + 1, r.seq - 1));
            }
            track.last_seq = r.seq;
        } else if let Some(i) = track
            .gaps
            .iter()
            .position(|&(a, b)| (a..=b).contains(&r.seq))
        {
            // A late message filling a hole: not a duplicate, but out of order.
            self.report.reordered += 1;
            let (a, b) = track.gaps.remove(i);
            if a < r.seq {
                track.gaps.push((a, r.seq - 1));
            }
            if r.seq < b {
                track.gaps.push((r.seq + 1, b));
            }
        } else if r.seq < track.first_seq {
            // Earlier than anything seen: out of order, and what lies between is missing so far.
            self.report.reordered += 1;
            if r.seq + 1 < track.first_seq {
                track.gaps.push((r.seq + 1, track.first_seq - 1));
            }
            track.first_seq = r.seq;
        } else {
            self.report.duplicates += 1;
            let text = format!("{} seq {} seen twice", r.device_id, r.seq);
            self.report.example(text);
        }
    }

    /// Closes the report: counts the gaps left.
    pub fn finish(mut self) -> VerifyReport {
        let mut devices: Vec<_> = self.devices.iter().collect();
        devices.sort_by(|a, b| a.0.cmp(b.0));
        for (id, track) in devices {
            for &(a, b) in &track.gaps {
                self.report.missing += b - a + 1;
                if self.report.gap_examples.len() < EXAMPLES {
                    self.report
                        .gap_examples
                        .push(format!("{id}: seq {a}..={b} ({} missing)", b - a + 1));
                }
            }
        }
        self.report
    }

    /// Sequence numbers seen per device: (first, last, messages), for tests and reports.
    pub fn device_spans(&self) -> HashMap<String, (u64, u64, u64)> {
        self.devices
            .iter()
            .map(|(id, t)| (id.clone(), (t.first_seq, t.last_seq, t.messages)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
