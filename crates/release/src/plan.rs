//! What the updater does with the release the server offers it.

use std::cmp::Ordering;

use crate::metadata::{Metadata, PlatformFiles};
use crate::{version, ReleaseError};

/// The updater's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan<'a> {
    /// Nothing offered, or the offered version already runs.
    UpToDate,
    /// Install `version`, whose files are `files`.
    Install {
        version: &'a str,
        files: &'a PlatformFiles,
    },
}

/// Decides from verified, fresh metadata: `offered` is the version the
/// server's rollout chose for this agent (`None`: keep what runs). An
/// offered version older than `current` is refused (no downgrade, whatever
/// the server says); one missing from the signed metadata, or without a
/// package for `platform`, is refused too.
pub fn plan<'a>(
    meta: &'a Metadata,
    offered: Option<&str>,
    current: &str,
    platform: &str,
) -> Result<Plan<'a>, ReleaseError> {
    let Some(offered) = offered else {
        return Ok(Plan::UpToDate);
    };
    match version::cmp(offered, current)? {
        Ordering::Equal => return Ok(Plan::UpToDate),
        Ordering::Less => {
            return Err(ReleaseError::Older {
                offered: offered.to_string(),
                current: current.to_string(),
            })
        }
        Ordering::Greater => {}
    }
    let entry = meta
        .release(offered)
        .ok_or_else(|| ReleaseError::NotListed(offered.to_string()))?;
    let files = entry
        .platforms
        .get(platform)
        .ok_or_else(|| ReleaseError::NoPackage {
            version: offered.to_string(),
            platform: platform.to_string(),
        })?;
    Ok(Plan::Install {
        version: &entry.version,
        files,
    })
}
