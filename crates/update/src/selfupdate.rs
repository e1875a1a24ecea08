//! The updater updating itself: after the new agent of a release proved
//! itself online, the release's `ward-update` (already verified against the
//! signed metadata and placed in `update/<version>/`) must report that
//! version when run, then `bin/ward-update` is swapped to it and the
//! running updater re-executes itself through the link ([`reexec_if_moved`]).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use ward_agent_core::layout::{swap_symlink, Layout};

/// Points `bin/ward-update` at the verified `bin` of `version`, if it runs.
pub fn switch_updater(layout: &Layout, bin: &Path, version: &str) {
    match ward_agent_core::updater_ctl::binary_version(bin) {
        Ok(v) if v == version => {}
        Ok(v) => {
            tracing::error!(expected = version, got = %v, "the new ward-update reports another version; keeping the current one");
            return;
        }
        Err(e) => {
            tracing::error!(error = %ward_agent_core::one_line(&e), "the new ward-update does not run; keeping the current one");
            return;
        }
    }
    match swap_symlink(
        &Layout::update_link_target(version),
        &layout.update_bin_link(),
    ) {
        Ok(()) => tracing::info!(version, "ward-update switched to the new release"),
        Err(e) => tracing::error!(error = %e, "switching bin/ward-update failed"),
    }
}

/// Re-executes `bin/ward-update run` when the link points at another
/// version than this process. Returns only when it does not (or exec failed).
pub fn reexec_if_moved(layout: &Layout) {
    let Some(linked) = crate::switch::linked_version(&layout.update_bin_link()) else {
        return;
    };
    if linked == ward_agent_core::version() {
        return;
    }
    tracing::info!(from = ward_agent_core::version(), to = %linked, "re-executing the new ward-update");
    let err = Command::new(layout.update_bin_link())
        .arg("run")
        .arg("--prefix")
        .arg(layout.prefix())
        .exec();
    tracing::error!(error = %err, "re-executing ward-update failed; this one keeps running");
}
