//! What a stretch of work costs a process: its CPU time and resident memory, read from
//! `/proc`, so that the producer is measured apart from a broker running in another process.

use std::time::Instant;

/// Kernel clock ticks per second in `/proc/<pid>/stat`: `USER_HZ`, fixed at 100 by the Linux
/// ABI on every architecture devsim builds for (whatever the kernel's own tick rate).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user and system, every thread) process `pid` has used so far; `None` when its
/// `/proc` entry cannot be read (not Linux, or the process is gone).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    parse_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
        .map(|ticks| ticks as f64 / TICKS_PER_SECOND)
}

/// Resident memory of process `pid` now, in bytes.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    crate::metrics::status_bytes(&pid.to_string(), "VmRSS:")
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`: utime and stime are the 14th and
/// 15th fields of the line, the 12th and 13th after the name.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// CPU and wall-clock time of one process over a stretch of work.
#[derive(Clone, Copy, Debug)]
pub struct CpuMeter {
    pid: u32,
    cpu_at_start: Option<f64>,
    started: Instant,
}

impl CpuMeter {
    /// Starts measuring process `pid`.
    pub fn start(pid: u32) -> Self {
        Self {
            pid,
            cpu_at_start: cpu_seconds(pid),
            started: Instant::now(),
        }
    }

    /// CPU seconds used since the start (0 where `/proc` could not be read at either end,
    /// rather than a whole lifetime's), and the wall-clock seconds elapsed.
    pub fn read(&self) -> (f64, f64) {
        let cpu = match (self.cpu_at_start, cpu_seconds(self.pid)) {
            (Some(start), Some(now)) => (now - start).max(0.0),
            _ => 0.0,
        };
        (cpu, self.started.elapsed().as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_last_parenthesis() {
        // A real line of /proc/<pid>/stat, its name changed to hold a space and a ')'.
        let line = "4242 (rdk:broker 1) x) S 1 4242 4242 0 -1 4194560 1507 0 0 0 \
                    731 52 0 0 20 0 9 0 1234 123456789 3456 18446744073709551615";
        assert_eq!(parse_cpu_ticks(line), Some(783));
        assert_eq!(parse_cpu_ticks("4242 (cut short) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis at all"), None);
    }

    #[test]
    fn this_process_is_seen_to_work() {
        let pid = std::process::id();
        let meter = CpuMeter::start(pid);
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed().as_millis() < 300 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let (cpu, wall) = meter.read();
        // 300 ms of spinning on one thread: the ticks are 10 ms, other test threads add some.
        assert!(cpu >= 0.2, "cpu {cpu} s over {wall} s");
        assert!(resident_bytes(pid).is_some_and(|b| b > 1 << 20));
    }
}
