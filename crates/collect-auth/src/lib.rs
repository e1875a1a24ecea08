//! `ward-collect-auth`: the agent's login collector (I/O).
//!
//! This crate owns reading login activity from the host and nothing else:
//! it follows `/var/log/auth.log` and `/var/log/secure` across rotation and
//! truncation ([`follow`]), reads journald through `journalctl -o json`
//! when there is no such file ([`journal`]), reads `wtmp` (logins) and
//! `btmp` (failed logins) records ([`utmp`]), parses lines with
//! `ward_authlog::parse_line`, and hands the events to a [`Sink`] (the
//! agent's spool). Read positions (device, inode, offset, hash of the first
//! line; the journald cursor) are persisted after every hand-over, so a
//! restart resumes where the last one stopped, without losing or repeating
//! lines.
//!
//! It runs on one thread ([`spawn`]) that sleeps in `poll(2)` on an
//! inotify descriptor (raw syscalls, no extra crate), the journalctl pipe
//! and a stop eventfd, with a polling fallback. Reading is bounded: lines
//! are cut at `max_line_bytes` and at most `max_lines_per_sec` are read per
//! second (beyond that reading lags; nothing is dropped).

pub mod checkpoint;
pub mod clock;
mod collector;
pub mod config;
pub mod follow;
pub mod journal;
pub mod status;
pub mod utmp;
mod watch;

pub use collector::{spawn, CollectorHandle, Sink, StatusReader};
pub use config::{AuthConfig, JournaldMode};
pub use status::{CollectorStatus, SourceStatus};
