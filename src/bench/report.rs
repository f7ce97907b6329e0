//! The bench's words: a line per phase, medians and spread per mode, and how many replicas the
//! simulation's schedule needs at the rate measured.

use super::{Mode, PhaseResult};

/// Share of a replica's measured ceiling a recommendation plans to use: the rest is room to
/// catch up after a slow spell of the brokers, and for the pod's neighbours on its node.
pub const PLANNED_LOAD: f64 = 0.7;

/// The header of the per-phase table.
pub fn phase_header() -> String {
    format!(
        "{:<5} {:<8} {:>11} {:>8} {:>6} {:>8} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "round",
        "mode",
        "msg/s",
        "MB/s",
        "CPU",
        "µs/msg",
        "lat p50",
        "lat p99",
        "lat p99.9",
        "RSS",
        "broker CPU"
    )
}

/// One phase as a table row.
pub fn phase_line(r: &PhaseResult) -> String {
    let ms = |d: std::time::Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let mut line = format!(
        "{:<5} {:<8} {:>11.0} {:>8.1} {:>5.0}% {:>8.2} {:>9} {:>9} {:>9} {:>8} {:>10}",
        r.round,
        r.mode.name(),
        r.rate(),
        r.megabytes_per_second(),
        100.0 * r.cpu_seconds / r.seconds.max(1e-9),
        r.cpu_per_message_us(),
        ms(r.latency[0]),
        ms(r.latency[1]),
        ms(r.latency[2]),
        r.resident_bytes
            .map_or("-".to_owned(), |b| format!("{} MiB", b >> 20)),
        r.broker_cpu_seconds.map_or("-".to_owned(), |c| format!(
            "{:.0}%",
            100.0 * c / r.seconds.max(1e-9)
        )),
    );
    if r.failed > 0 {
        line.push_str(&format!("  ({} failed)", r.failed));
    }
    line
}

/// Median, least and greatest of `values`; `None` when empty.
pub fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    };
    Some((median, sorted[0], sorted[sorted.len() - 1]))
}

/// Median figures of one mode over its phases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModeSummary {
    /// Median messages per second, and the least and greatest phase.
    pub rate: (f64, f64, f64),
    /// Median CPU microseconds a message.
    pub cpu_per_message_us: f64,
}

/// The summary of `mode`'s phases, if it ran.
pub fn summarise(results: &[PhaseResult], mode: Mode) -> Option<ModeSummary> {
    let of_mode: Vec<&PhaseResult> = results.iter().filter(|r| r.mode == mode).collect();
    let rates: Vec<f64> = of_mode.iter().map(|r| r.rate()).collect();
    let cpu: Vec<f64> = of_mode.iter().map(|r| r.cpu_per_message_us()).collect();
    Some(ModeSummary {
        rate: spread(&rates)?,
        cpu_per_message_us: spread(&cpu)?.0,
    })
}

/// Replicas that carry `scheduled` messages a second when one sustains `per_replica`, each
/// planned at [`PLANNED_LOAD`] of it; at least one.
pub fn recommended_replicas(scheduled: f64, per_replica: f64) -> u64 {
    if per_replica <= 0.0 || !scheduled.is_finite() {
        return 1;
    }
    ((scheduled / (per_replica * PLANNED_LOAD)).ceil() as u64).max(1)
}

/// Median ratio of each round's pipeline rate to its raw rate: phases of one round ran side by
/// side, so their ratio is the figure least touched by drifting noise.
pub fn pipeline_to_raw(results: &[PhaseResult]) -> Option<f64> {
    let ratios: Vec<f64> = results
        .iter()
        .filter(|r| r.mode == Mode::Pipeline)
        .filter_map(|p| {
            results
                .iter()
                .find(|r| r.mode == Mode::Raw && r.round == p.round)
                .map(|raw| p.rate() / raw.rate().max(1e-9))
        })
        .collect();
    spread(&ratios).map(|(median, _, _)| median)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn phase(round: u32, mode: Mode, delivered: u64) -> PhaseResult {
        PhaseResult {
            round,
            mode,
            delivered,
            failed: 0,
            delivered_bytes: delivered * 250,
            seconds: 10.0,
            cpu_seconds: 15.0,
            broker_cpu_seconds: None,
            latency: [Duration::from_millis(5); 3],
            resident_bytes: None,
        }
    }

    #[test]
    fn medians_take_the_middle_or_the_mean_of_the_two_middles() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(spread(&[f64::NAN]), None);
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn ratios_pair_phases_of_the_same_round() {
        let results = [
            phase(1, Mode::Raw, 10_000_000),
            phase(1, Mode::Pipeline, 9_000_000),
            phase(2, Mode::Raw, 5_000_000),
            phase(2, Mode::Pipeline, 4_000_000),
            phase(3, Mode::Raw, 8_000_000),
            phase(3, Mode::Pipeline, 8_000_000),
        ];
        // Per round 0.9, 0.8, 1.0: the median is 0.9, where the ratio of medians is 1.0.
        let ratio = pipeline_to_raw(&results).unwrap();
        assert!((ratio - 0.9).abs() < 1e-9, "{ratio}");
        let raw = summarise(&results, Mode::Raw).unwrap();
        assert_eq!(raw.rate, (800_000.0, 500_000.0, 1_000_000.0));
        assert!((raw.cpu_per_message_us - 15e6 / 8e6).abs() < 1e-9);
    }

    #[test]
    fn replicas_keep_headroom_and_never_fall_to_zero() {
        assert_eq!(recommended_replicas(0.0, 500_000.0), 1);
        assert_eq!(recommended_replicas(350_000.0, 500_000.0), 1);
        assert_eq!(recommended_replicas(350_001.0, 500_000.0), 2);
        assert_eq!(recommended_replicas(2_000_000.0, 500_000.0), 6);
        assert_eq!(recommended_replicas(1.0, 0.0), 1);
    }
}
