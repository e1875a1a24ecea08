//! The server's half of the agent lifecycle (SPEC L9–L12):
//!
//! * [`commands`]: signed commands (`uninstall`, `update_check`): signed
//!   with the command key, stored, delivered to the live session at once or
//!   queued until they expire, answered by the agent; `uninstall` makes the
//!   asset `uninstalled` as soon as the agent accepts it.
//! * [`tamper`]: tamper protection per group (a settings document), the
//!   signed statement each agent receives, uninstall tokens, and the agent's
//!   notices (refused stop/uninstall → urgent `ward.tamper.*` alert, T1562.001;
//!   manual uninstall → `uninstalled`).
//! * [`clones`]: a copy of an install (another host fingerprint, or a second
//!   live agent process with one identity) gets an identity of its own.
//!
//! The gateway (`gateway::lifecycle`) runs the per-session part.

pub mod clones;
pub mod commands;
pub mod tamper;

use std::sync::Arc;

use tokio::sync::watch;
use ward_pki::issue::CommandKey;

use self::clones::ReidLimiter;
use self::tamper::TamperSettings;
use crate::ratelimit::FailureLimiter;

/// Notices one agent may send per hour (tamper reports are alerts).
pub const NOTICES_PER_HOUR: u32 = 100;

/// Lifecycle state shared by the API, the console and the gateway.
pub struct Lifecycle {
    /// Signs commands, tokens and protection statements.
    pub key: Arc<CommandKey>,
    tamper: watch::Sender<Arc<TamperSettings>>,
    pub reid_limiter: ReidLimiter,
    /// Notices per agent identity.
    pub notice_limiter: FailureLimiter<String>,
}

impl Lifecycle {
    pub fn new(key: Arc<CommandKey>, tamper: TamperSettings) -> Lifecycle {
        Lifecycle {
            key,
            tamper: watch::channel(Arc::new(tamper)).0,
            reid_limiter: clones::reid_limiter(),
            notice_limiter: FailureLimiter::new(NOTICES_PER_HOUR, 3_600_000),
        }
    }

    /// The tamper-protection settings in force.
    pub fn tamper(&self) -> Arc<TamperSettings> {
        self.tamper.borrow().clone()
    }

    /// Replaces them; every live session re-sends its statement.
    pub fn set_tamper(&self, s: TamperSettings) {
        self.tamper.send_replace(Arc::new(s));
    }

    /// Receiver of settings changes, for a session.
    pub fn subscribe_tamper(&self) -> watch::Receiver<Arc<TamperSettings>> {
        self.tamper.subscribe()
    }

    /// The command key's public half (standard base64).
    pub fn public_key(&self) -> String {
        self.key.public_b64()
    }
}
