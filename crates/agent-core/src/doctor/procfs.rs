//! What `doctor` reads from `/proc`: CPU time (whole host and per process),
//! memory, and the process list. Parsers are pure and tested on fixtures.

use std::path::Path;

/// Aggregate CPU jiffies from the `cpu ` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// All jiffies (guest time is already inside user/nice).
    pub total: u64,
    /// idle + iowait.
    pub idle: u64,
}

/// Parses the `cpu ` line of `/proc/stat`.
pub fn parse_cpu_times(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some(CpuTimes { total, idle })
}

/// Busy share of the CPU between two samples, in percent (0 when the
/// samples are equal or out of order).
pub fn busy_percent(a: CpuTimes, b: CpuTimes) -> f64 {
    let total = b.total.saturating_sub(a.total);
    let idle = b.idle.saturating_sub(a.idle);
    if total == 0 {
        return 0.0;
    }
    100.0 * (total.saturating_sub(idle)) as f64 / total as f64
}

/// `MemTotal` and `MemAvailable` of `/proc/meminfo`, in kB.
pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    let total = field("MemTotal:")?;
    let avail = field("MemAvailable:")?;
    (total > 0).then_some((total, avail))
}

/// Used share of memory in percent.
pub fn mem_used_percent(total_kb: u64, available_kb: u64) -> f64 {
    100.0 * total_kb.saturating_sub(available_kb) as f64 / total_kb as f64
}

/// `(comm, utime + stime)` from `/proc/<pid>/stat`; the comm may hold
/// spaces and parentheses, so fields are counted after the last `)`.
pub fn parse_pid_stat(text: &str) -> Option<(String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// One process, as far as `doctor` cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    /// `/proc/<pid>/comm` (at most 15 bytes).
    pub comm: String,
    /// Base name of `/proc/<pid>/exe`, when readable.
    pub exe_name: Option<String>,
    /// utime + stime, in clock ticks.
    pub ticks: u64,
}

/// Every process readable under `proc` (normally `/proc`).
pub fn processes(proc: &Path) -> Vec<Proc> {
    let Ok(rd) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let Some((comm, ticks)) = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .and_then(|t| parse_pid_stat(&t))
        else {
            continue;
        };
        let exe_name = std::fs::read_link(dir.join("exe"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .map(|n| n.trim_end_matches(" (deleted)").to_string());
        out.push(Proc {
            pid,
            comm,
            exe_name,
            ticks,
        });
    }
    out.sort_by_key(|p| p.pid);
    out
}

/// The processes that used the most CPU between two listings, with their
/// share of one core in percent, largest first.
pub fn top_cpu(before: &[Proc], after: &[Proc], secs: f64, ticks_per_sec: u64) -> Vec<(Proc, f64)> {
    let mut out: Vec<(Proc, f64)> = after
        .iter()
        .filter_map(|p| {
            let prev = before.iter().find(|b| b.pid == p.pid && b.comm == p.comm)?;
            let delta = p.ticks.saturating_sub(prev.ticks);
            let pct = 100.0 * delta as f64 / (ticks_per_sec.max(1) as f64 * secs.max(0.001));
            (delta > 0).then(|| (p.clone(), pct))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 when unknown).
pub fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf reads a constant; no memory is passed.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_A: &str =
        "cpu  1000 50 500 8000 100 0 20 0 0 0\ncpu0 500 25 250 4000 50 0 10 0 0 0\nintr 1 2 3\n";
    const STAT_B: &str =
        "cpu  1900 50 580 8010 100 0 30 0 0 0\ncpu0 950 25 290 4005 50 0 15 0 0 0\n";

    #[test]
    fn cpu_busy_share_between_samples() {
        let a = parse_cpu_times(STAT_A).unwrap();
        let b = parse_cpu_times(STAT_B).unwrap();
        assert_eq!(
            a,
            CpuTimes {
                total: 9670,
                idle: 8100
            }
        );
        // Deltas: user +900, system +80, idle +10, softirq +10 => 1000 total, 10 idle.
        assert_eq!(b.total - a.total, 1000);
        assert!((busy_percent(a, b) - 99.0).abs() < 1e-9);
        assert_eq!(busy_percent(b, a), 0.0);
        assert_eq!(busy_percent(a, a), 0.0);
        assert_eq!(parse_cpu_times("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_cpu_times("cpu  1 x 3 4\n"), None);
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:     600000 kB\n";
        let (t, a) = parse_meminfo(text).unwrap();
        assert_eq!((t, a), (24_000_000, 600_000));
        assert!((mem_used_percent(t, a) - 97.5).abs() < 1e-9);
        assert_eq!(parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 10 kB\n"), None);
    }

    #[test]
    fn pid_stat_with_awkward_comm() {
        // Fields after ")": state ppid pgrp session tty tpgid flags minflt
        // cminflt majflt cmajflt utime stime ...
        let text = "4242 (we (ird) name) R 1 4242 4242 0 -1 4194304 100 0 0 0 731 42 0 0 20 0 1 0 100 0 0\n";
        assert_eq!(
            parse_pid_stat(text),
            Some(("we (ird) name".to_string(), 773))
        );
        assert_eq!(parse_pid_stat("1 (x) S 0"), None);
    }

    #[test]
    fn top_cpu_orders_by_share() {
        let p = |pid, comm: &str, ticks| Proc {
            pid,
            comm: comm.into(),
            exe_name: None,
            ticks,
        };
        let before = vec![p(1, "init", 10), p(2, "busy", 100), p(3, "half", 0)];
        let after = vec![
            p(1, "init", 10),
            p(2, "busy", 200),
            p(3, "half", 50),
            p(4, "new", 9),
        ];
        let top = top_cpu(&before, &after, 1.0, 100);
        let names: Vec<(&str, f64)> = top.iter().map(|(p, s)| (p.comm.as_str(), *s)).collect();
        assert_eq!(names, vec![("busy", 100.0), ("half", 50.0)]);
    }

    #[test]
    fn own_process_is_listed() {
        let procs = processes(Path::new("/proc"));
        let me = std::process::id();
        assert!(procs.iter().any(|p| p.pid == me), "own pid {me} listed");
    }
}
