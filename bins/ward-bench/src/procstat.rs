//! Resource readings from `/proc`: a process's RSS and CPU time, the
//! machine's CPU use and available memory, and finding the server's pid.

use std::path::Path;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcReading {
    pub rss_bytes: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub threads: u64,
}

/// Parses `/proc/<pid>/stat`: fields after the `)` closing the command name
/// (which may itself hold spaces and parentheses).
pub fn parse_stat(text: &str) -> Result<(u64, u64), String> {
    let close = text.rfind(')').ok_or("no ')' in stat")?;
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After ')': state(0) ppid(1) ... utime is field 14 of the full line,
    // i.e. index 11 here; stime index 12; num_threads index 17.
    let num = |i: usize, name: &str| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("stat has no numeric {name}"))
    };
    Ok((
        num(11, "utime")? + num(12, "stime")?,
        num(17, "num_threads")?,
    ))
}

/// The `VmRSS:` line of `/proc/<pid>/status`, in bytes.
pub fn parse_status_rss(text: &str) -> Result<u64, String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS line")?;
    kib_field(line).map(|k| k * 1024)
}

/// `Name:   1234 kB` → 1234.
fn kib_field(line: &str) -> Result<u64, String> {
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("bad line {line:?}"))
}

/// Reads a process; `None` when it is gone.
pub fn read_process(pid: u32) -> Option<ProcReading> {
    let base = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(base.join("stat")).ok()?;
    let status = std::fs::read_to_string(base.join("status")).ok()?;
    let (cpu_ticks, threads) = parse_stat(&stat).ok()?;
    let rss_bytes = parse_status_rss(&status).ok()?;
    Some(ProcReading {
        rss_bytes,
        cpu_ticks,
        threads,
    })
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// Percent of one core used between two tick readings `elapsed` apart.
pub fn cpu_percent(ticks_before: u64, ticks_after: u64, elapsed_secs: f64, hz: u64) -> f64 {
    if elapsed_secs <= 0.0 || hz == 0 {
        return 0.0;
    }
    ticks_after.saturating_sub(ticks_before) as f64 / hz as f64 / elapsed_secs * 100.0
}

/// Machine-wide CPU counters from the `cpu ` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineCpu {
    pub busy: u64,
    pub total: u64,
}

pub fn parse_proc_stat(text: &str) -> Result<MachineCpu, String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or("no cpu line")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse::<u64>().map_err(|_| format!("bad number {x:?}")))
        .collect::<Result<_, _>>()?;
    if v.len() < 4 {
        return Err("cpu line too short".into());
    }
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Ok(MachineCpu {
        busy: total - idle,
        total,
    })
}

/// Busy share of all cores between two readings, 0..=100.
pub fn machine_busy_percent(a: MachineCpu, b: MachineCpu) -> f64 {
    let total = b.total.saturating_sub(a.total);
    if total == 0 {
        return 0.0;
    }
    b.busy.saturating_sub(a.busy) as f64 / total as f64 * 100.0
}

pub fn read_machine_cpu() -> Option<MachineCpu> {
    parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?).ok()
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn parse_mem_available(text: &str) -> Result<u64, String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .ok_or("no MemAvailable line")?;
    kib_field(line).map(|k| k * 1024)
}

pub fn read_mem_available() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?).ok()
}

/// Pids of running `ward-server serve` processes.
pub fn find_server_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            is_server_cmdline(&cmd)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// True for a NUL-separated command line `…/ward-server … serve …`.
pub fn is_server_cmdline(cmd: &[u8]) -> bool {
    let mut args = cmd.split(|&b| b == 0).filter(|a| !a.is_empty());
    let Some(exe) = args.next() else {
        return false;
    };
    let exe_name = exe.rsplit(|&b| b == b'/').next().unwrap_or(exe);
    exe_name == b"ward-server" && args.any(|a| a == b"serve")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_spaces_and_parens_in_the_name() {
        // Field layout from proc(5): pid (comm) state ppid pgrp session tty_nr
        // tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
        // priority nice num_threads ...
        let line = "4242 (ward (x) server) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    1234 566 0 0 20 0 7 0 100 2000000 300 ...";
        assert_eq!(parse_stat(line).unwrap(), (1234 + 566, 7));
        assert!(parse_stat("garbage").is_err());
        assert!(parse_stat("1 (x) S 1 2").is_err());
    }

    #[test]
    fn status_and_meminfo_lines() {
        let status = "Name:\tward-server\nVmPeak:\t  999 kB\nVmRSS:\t  20480 kB\nThreads: 3\n";
        assert_eq!(parse_status_rss(status).unwrap(), 20480 * 1024);
        assert!(parse_status_rss("Name: x\n").is_err());
        let meminfo = "MemTotal:       24000000 kB\nMemFree:  1 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(meminfo).unwrap(), 20_000_000 * 1024);
    }

    #[test]
    fn cpu_percentages() {
        // 150 ticks at 100 Hz over 1 s = 1.5 cores = 150 %.
        assert_eq!(cpu_percent(1000, 1150, 1.0, 100), 150.0);
        assert_eq!(cpu_percent(5, 5, 0.0, 100), 0.0);
        let a = parse_proc_stat("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(
            a,
            MachineCpu {
                busy: 200,
                total: 1000
            }
        );
        let b = parse_proc_stat("cpu  250 0 150 900 0 0 0 0 0 0\n").unwrap();
        // Busy grew by 200 of a 300 total step.
        let pct = machine_busy_percent(a, b);
        assert!((pct - 200.0 / 3.0).abs() < 1e-9, "{pct}");
        assert!(parse_proc_stat("intr 1 2\n").is_err());
    }

    #[test]
    fn server_command_lines() {
        assert!(is_server_cmdline(
            b"/work/targets/bench/release-server/ward-server\0serve\0--data-dir\0/tmp/x\0"
        ));
        assert!(is_server_cmdline(b"ward-server\0--data-dir\0d\0serve\0"));
        assert!(!is_server_cmdline(b"ward-server\0keys\0list\0"));
        assert!(!is_server_cmdline(
            b"/usr/bin/cargo\0run\0-p\0ward-server\0serve\0"
        ));
        assert!(!is_server_cmdline(b""));
    }

    #[test]
    fn reads_this_process() {
        let me = read_process(std::process::id()).expect("own /proc entry");
        assert!(me.rss_bytes > 0);
        assert!(me.threads >= 1);
        assert!(ticks_per_sec() > 0);
        assert!(read_machine_cpu().is_some_and(|c| c.total >= c.busy));
        assert!(read_mem_available().is_some_and(|m| m > 0));
    }
}
