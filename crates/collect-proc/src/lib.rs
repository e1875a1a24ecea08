//! `ward-collect-proc`: the agent's process collector (I/O, no detection).
//!
//! This crate owns turning process activity into typed events and nothing
//! else:
//!
//! * **exec** — the netlink process connector ([`netlink`]: fork, exec,
//!   uid, exit) with each new program's details read from `/proc`
//!   ([`read`]): executable (deleted? memfd?), command line, user, working
//!   directory, login uid, stdin/stdout/stderr targets with TCP/UDP sockets
//!   resolved to their peers ([`sockinfo`]: `pidfd_getfd` + `getpeername`,
//!   O(1) however many sockets the host has; `/proc/PID/net/tcp{,6}`,
//!   `udp{,6}` on kernels without it), and the parent chain from the
//!   process [`table`] → `process.exec`;
//! * **polling fallback** — where the connector cannot be opened
//!   (containers), `/proc` is scanned every `poll_interval`;
//! * **start snapshot** — processes already running → `process.running`,
//!   once per process across agent restarts ([`state`]);
//! * **checks** — running processes whose executable was deleted
//!   (`process.exe_deleted`), sustained CPU use ([`cpu`], `process.cpu`),
//!   new TCP connections with their owning process ([`net`], `net.connect`;
//!   the socket table comes from netlink `sock_diag` ([`sockdiag`]), or
//!   `/proc/net/tcp{,6}` where it is not available);
//! * **actors** — [`ActorLookup`] names the process behind a pid for the
//!   file collector.
//!
//! Parsers of `/proc` files and connector messages ([`parse`],
//! [`netlink::parse_datagram`]) are pure and fuzzed. The agent's own
//! process, its children and runs of its own binary are never reported.
//! Everything runs on one thread ([`spawn`]) sleeping in `poll(2)`.

mod collector;
pub mod config;
pub mod cpu;
pub mod net;
pub mod netlink;
pub mod parse;
pub mod read;
pub mod sockdiag;
pub mod sockinfo;
pub mod state;
pub mod status;
pub mod table;

pub use collector::{spawn, ActorLookup, ProcHandle, StatusReader};
pub use config::{CpuConfig, Mode, NetConfig, ProcConfig};
pub use status::ProcStatus;
