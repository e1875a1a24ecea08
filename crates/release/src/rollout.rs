//! Which release the server offers one agent.
//!
//! * **Pin**: with `pinned_version` set, no release newer than it is
//!   offered (agents below it are brought up to it; agents above it are
//!   never downgraded: the updater refuses older versions).
//! * **Groups first**: agents of a group listed in `groups` get the newest
//!   eligible release at once.
//! * **Percentage**: other agents get the newest eligible release when their
//!   bucket (a stable number 0–99 from the agent id) is below `percentage`;
//!   the rest are offered the release before it, so raising the percentage
//!   only ever adds agents.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::version;

/// The server settings document that holds the rollout controls.
pub const SETTING_KEY: &str = "rollout";

/// Most groups a rollout may name.
pub const MAX_GROUPS: usize = 100;

/// The operator's rollout controls (console and `PUT /api/v1/settings/rollout`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rollout {
    /// Hold agents at (at most) this version.
    pub pinned_version: Option<String>,
    /// Share of the fleet (0–100) that gets the newest eligible release.
    pub percentage: u8,
    /// Groups that get the newest eligible release before the others.
    pub groups: Vec<String>,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            pinned_version: None,
            percentage: 100,
            groups: Vec::new(),
        }
    }
}

/// The release chosen for an agent and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub version: String,
    /// `group`, `percentage` or `previous` (outside the rollout percentage).
    pub reason: String,
}

impl Rollout {
    /// What is wrong with the values, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.percentage > 100 {
            p.push(format!(
                "percentage must be between 0 and 100, got {}",
                self.percentage
            ));
        }
        if let Some(v) = &self.pinned_version {
            if let Err(e) = version::parse(v) {
                p.push(format!("pinned_version: {e}"));
            }
        }
        if self.groups.len() > MAX_GROUPS {
            p.push(format!("at most {MAX_GROUPS} groups"));
        }
        for g in &self.groups {
            if g.trim().is_empty() || g.len() > 128 {
                p.push(format!(
                    "group names must be 1 to 128 characters, got {g:?}"
                ));
            }
        }
        p
    }

    /// Chooses the release for an agent among `versions` (the releases that
    /// have a package for its platform; any order; invalid ones ignored).
    pub fn select(
        &self,
        versions: &[&str],
        agent_id: &str,
        group: Option<&str>,
    ) -> Option<Selection> {
        let pin = self
            .pinned_version
            .as_deref()
            .and_then(|v| version::parse(v).ok());
        let mut eligible: Vec<(semver::Version, &str)> = versions
            .iter()
            .filter_map(|v| version::parse(v).ok().map(|p| (p, *v)))
            .filter(|(p, _)| pin.as_ref().is_none_or(|pin| p <= pin))
            .collect();
        eligible.sort_by(|a, b| b.0.cmp(&a.0));
        eligible.dedup_by(|a, b| a.0 == b.0);
        let (_, newest) = eligible.first()?;
        let pick = |v: &str, reason: &str| Selection {
            version: v.to_string(),
            reason: reason.to_string(),
        };
        if group.is_some_and(|g| self.groups.iter().any(|x| x == g)) {
            return Some(pick(newest, "group"));
        }
        if bucket(agent_id) < self.percentage {
            return Some(pick(newest, "percentage"));
        }
        eligible.get(1).map(|(_, v)| pick(v, "previous"))
    }
}

/// A stable number 0–99 for an agent: SHA-256 of its id, first 4 bytes, mod 100.
pub fn bucket(agent_id: &str) -> u8 {
    let d = Sha256::digest(agent_id.as_bytes());
    (u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 100) as u8
}
