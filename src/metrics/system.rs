//! What the process reads of its own resources: peak memory for the run summary, and the
//! cgroup's memory limit that `process_resident_memory_bytes` is judged against.

/// Peak resident set size of this process (Linux only).
pub fn peak_resident_memory_bytes() -> Option<u64> {
    status_bytes("self", "VmHWM:")
}

/// A memory figure of `/proc/<pid>/status` (`pid` a number or `self`), such as `VmRSS:`, in
/// bytes; `None` where that file or line cannot be read (not Linux, the process gone).
pub fn status_bytes(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Limits at or above this are "no limit" (cgroup v1 writes the largest page-aligned i64).
const UNLIMITED: u64 = 1 << 60;

/// The memory limit of the cgroup this process runs in, if it has one: cgroup v2's
/// `memory.max`, else v1's `memory.limit_in_bytes`. The cgroup's own path (from
/// `/proc/self/cgroup`) is tried first, then the mount's root, which is the container's own
/// cgroup inside a container without a cgroup namespace.
pub fn memory_limit_bytes() -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    limit_files(&membership)
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| parse_limit(&text))
}

/// The files that may hold this process's memory limit, most specific first, given the
/// content of `/proc/self/cgroup`.
fn limit_files(membership: &str) -> Vec<String> {
    let mut files = Vec::new();
    for line in membership.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if controllers.is_empty() {
            files.push(format!("/sys/fs/cgroup{path}/memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            files.push(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"));
        }
    }
    files.push("/sys/fs/cgroup/memory.max".to_owned());
    files.push("/sys/fs/cgroup/memory/memory.limit_in_bytes".to_owned());
    files
}

/// A cgroup memory limit file's content; `None` for "max" or an unlimited figure.
fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|&b| b < UNLIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_in_both_cgroup_versions_and_no_limit_is_none() {
        assert_eq!(parse_limit("268435456\n"), Some(268_435_456));
        assert_eq!(parse_limit("max\n"), None, "cgroup v2 without a limit");
        assert_eq!(
            parse_limit("9223372036854771712\n"),
            None,
            "cgroup v1 without a limit"
        );
        assert_eq!(parse_limit(""), None);
    }

    #[test]
    fn the_process_s_own_cgroup_comes_first_in_either_version() {
        let v1 = "12:pids:/x\n9:memory:/kubepods/pod1/c1\n1:name=systemd:/\n";
        assert_eq!(
            limit_files(v1)[0],
            "/sys/fs/cgroup/memory/kubepods/pod1/c1/memory.limit_in_bytes"
        );
        let v2 = "0::/kubepods.slice/c2\n";
        assert_eq!(
            limit_files(v2)[0],
            "/sys/fs/cgroup/kubepods.slice/c2/memory.max"
        );
        let root = limit_files("0::/\n");
        assert_eq!(root[0], "/sys/fs/cgroup/memory.max");
        assert_eq!(
            limit_files("").last().map(String::as_str),
            Some("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        );
    }

    #[test]
    fn this_process_has_a_peak_memory() {
        let peak = peak_resident_memory_bytes().expect("Linux has /proc/self/status");
        assert!(peak > 1 << 20, "{peak}");
    }
}
