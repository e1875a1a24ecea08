//! `ward-collect-files`: the agent's file collector (I/O, no detection).
//!
//! This crate owns turning changes of watched paths into typed events and
//! nothing else:
//!
//! * **what is watched** ([`classify`]): persistence paths (cron, systemd
//!   units and timers, `rc.local` and init scripts, shell profiles,
//!   `authorized_keys`, `/etc/ld.so.preload`, PAM, sudoers), the account
//!   databases, shell history, `/var/log`, temporary directories, and the
//!   file-integrity trees (config; default `/etc`, `/usr/bin`, `/usr/sbin`,
//!   `/bin`, `/sbin`, `/boot`). Each path gets one category, the most
//!   specific, so one change raises one event;
//! * **how** ([`watch`]): fanotify directory marks, which name the writing
//!   process (looked up in the process collector's table through
//!   [`ActorLookup`]), or inotify where fanotify is not allowed; events are
//!   settled per path (100 ms) so a write, close and rename are one change;
//! * **baseline** ([`baseline`], [`state`]): metadata, SHA-256 and line
//!   hashes of every hashed path, persisted in the agent's `data/` and
//!   compared at start (changes made while the agent was down) and by
//!   periodic walks ([`scan`]; metadata first, hashing only what changed);
//! * **attribution** ([`pkg`]): the package manager's changes (its
//!   processes and their children, or a running package manager, or
//!   content matching dpkg's MD5s) and log rotation's are marked
//!   (`by_package`, `tool`), for rules to tell them apart;
//! * **accounts** ([`accounts`]): `/etc/passwd`, `/etc/shadow` (digests of
//!   password fields only) and `/etc/group` diffed into `account.*` and
//!   `group.*` events.
//!
//! One thread ([`spawn`]) sleeps in `poll(2)` on the watch descriptor.
//! Buffer and file parsers (fanotify, inotify, the baseline file) are pure
//! and fuzzed.

pub mod accounts;
mod apply;
pub mod baseline;
pub mod classify;
mod collector;
pub mod config;
pub mod diff;
pub mod pkg;
pub mod scan;
pub mod state;
pub mod status;
pub mod watch;

pub use collector::{spawn, FilesHandle, StatusReader};
pub use config::{ActorLookup, Backend, FilesConfig, DEFAULT_EXCLUDE_NAMES, DEFAULT_FIM_PATHS};
pub use status::FilesStatus;
