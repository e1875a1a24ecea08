//! The conformance suite every [`Store`] backend runs (feature `testsuite`).
//!
//! Each case is a `pub async fn` taking a fresh, empty store. A backend runs
//! them all from one of its integration tests with
//!
//! ```ignore
//! async fn fresh() -> (std::sync::Arc<dyn ward_store::Store>, MyGuard) { ... }
//! ward_store::store_conformance_tests!(fresh());
//! ```
//!
//! which expands to one `#[tokio::test]` per case (the backend crate needs
//! `tokio` with `macros` and `rt` as a dev-dependency). The argument is an
//! expression evaluated once per test, whose `.await` yields a [`Fixture`]:
//! an `Arc<dyn Store>`, a `Box<dyn Store>`, or a pair `(fixture, guard)`
//! where the guard (a temporary directory, a database handle...) lives as
//! long as the test.
//!
//! # The behaviour the suite pins down
//!
//! * Keys: `revoke_key` keeps the first revocation time; `NotFound` when
//!   missing. Duplicate key id or secret is `Conflict`.
//! * Enrollment: a non-uninstalled asset with the same fingerprint is
//!   reclaimed (same id, new credential hash, new report columns, status
//!   kept); otherwise a new `unprotected`/`never_connected` asset is created
//!   with the key's default group and one timeline entry. An unknown key id
//!   is `NotFound`; a clashing new id is `Conflict`. Two concurrent
//!   enrollments of one host make one asset.
//! * `last_seen` never moves backwards (`touch_last_seen` and
//!   `record_session_start`); unknown ids in a `touch_last_seen` batch are
//!   ignored.
//! * `status_events` is newest first (insertion order breaks ties); an
//!   unknown asset has an empty timeline.
//! * `list_assets` orders by `(hostname, id)` in byte order (Rust's `str`
//!   ordering), pages never repeat or skip an asset, the last page has no
//!   cursor, limit 0 means 50 and limits above 1000 mean 1000. Search is a
//!   case-insensitive literal substring of the hostname or of one IP
//!   address (`%`, `_`, `\` are ordinary characters). A malformed cursor is
//!   an error other than `Backend`.
//! * API tokens: a revoked token is never returned by `use_api_token`;
//!   revoking twice keeps the first time; a duplicate hash is `Conflict`.
//! * Console aggregates: `count_by_agent_version` leaves uninstalled assets
//!   out and orders by count (ties by version); `list_groups` counts every
//!   grouped asset, in byte order of the name.
//! * Events: ids at or below the asset's high-water mark are dropped as
//!   duplicates; a batch with non-increasing ids (or ids above `i64::MAX`)
//!   stores nothing; the feed is in ingest order across assets; retention
//!   deletes the oldest rows only, never past the caller's cursor, and keeps
//!   the high-water mark. Spool stats appear on the asset.
//! * Alerts: evidence is copied (it outlives retention); a re-raised alert
//!   whose window overlaps the newest one with its de-dup key is merged;
//!   listing is newest first with every filter and stable cursors.
//! * Whitelist entries are unique per (rule, field, value).
//! * Releases are immutable per (version, platform) (`Conflict` otherwise),
//!   listed in publication order; the release metadata version grows by one
//!   with every call; lifecycle events are listed newest first per asset and
//!   need an existing asset.
//! * Commands: created `pending`; `pending_commands` lists the unexpired
//!   ones oldest first; the state machine of `CommandState` is enforced
//!   (final states never move); expiry touches only pending commands;
//!   listing is newest first with filters and cursors.
//! * Cloned hosts: `reidentify` makes a new asset from the source's facts
//!   and never reclaims anything but a never-connected copy of the same
//!   source with the same fingerprint.
//! * Imported rule files upsert by name; a replacing import drops the
//!   others; every import raises the revision.
//!
//! Expected values are always computed from the test's own inputs (or a
//! small reference model of the rule), never copied from a backend's output.

use crate::Store;
use std::sync::Arc;

mod alerts;
mod assets;
mod commands;
mod enroll;
mod events;
mod keys;
mod listing;
mod overview;
mod releases;
mod rules;
mod support;
mod tokens;

pub use alerts::*;
pub use assets::*;
pub use commands::*;
pub use enroll::*;
pub use events::*;
pub use keys::*;
pub use listing::*;
pub use overview::*;
pub use releases::*;
pub use rules::*;
pub use tokens::*;

/// What a conformance test's factory yields: something that lends a store.
pub trait Fixture {
    fn store(&self) -> &dyn Store;
}

impl Fixture for Arc<dyn Store> {
    fn store(&self) -> &dyn Store {
        &**self
    }
}

impl Fixture for Box<dyn Store> {
    fn store(&self) -> &dyn Store {
        &**self
    }
}

/// A fixture plus a guard kept alive for the test (e.g. a temporary directory).
impl<F: Fixture, G> Fixture for (F, G) {
    fn store(&self) -> &dyn Store {
        self.0.store()
    }
}

/// Expands to one `#[tokio::test]` per conformance case; see the
/// [`testsuite`](crate::testsuite) module docs.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::__store_conformance_cases!(
            $factory;
            keys_create_get_list_find,
            keys_duplicate_id_or_secret_conflicts,
            keys_revoke_twice_keeps_first_time,
            enroll_creates_never_connected_asset,
            enroll_with_groupless_key_has_no_group,
            enroll_reclaims_by_fingerprint,
            enroll_does_not_reclaim_uninstalled_asset,
            enroll_unknown_key_is_not_found,
            enroll_clashing_new_id_conflicts,
            concurrent_enrolls_of_one_host_make_one_asset,
            record_session_start_sets_session_facts,
            update_report_updates_derived_columns,
            touch_last_seen_batches_and_never_goes_backwards,
            set_status_appends_timeline_newest_first,
            count_by_status_counts_each_status_and_reason,
            load_liveness_lists_every_asset,
            list_pages_walk_every_asset_once_in_order,
            list_limit_defaults_to_50_and_caps_at_1000,
            list_filters_by_status_reason_and_group,
            list_search_matches_hostname_or_ip_case_insensitively,
            list_search_treats_like_metacharacters_literally,
            list_cursor_round_trips_awkward_hostnames,
            list_malformed_cursor_is_a_client_error,
            api_tokens_create_use_list_revoke,
            api_token_duplicate_hash_conflicts,
            policy_get_and_set,
            count_by_agent_version_skips_uninstalled_and_sorts_by_count,
            list_groups_counts_every_grouped_asset_in_byte_order,
            events_ingest_drops_ids_at_or_below_the_high_water_mark,
            events_bad_batches_store_nothing,
            events_feed_is_in_ingest_order_across_assets,
            events_prune_by_age_and_cap_never_past_the_cursor,
            spool_stats_are_stored_on_the_asset,
            alerts_insert_copies_evidence_and_merges_duplicates,
            alerts_list_filters_and_pages_newest_first,
            alerts_state_changes_and_counts,
            whitelist_add_list_delete,
            settings_documents_round_trip,
            releases_add_list_and_conflict,
            release_metadata_version_only_grows,
            lifecycle_events_newest_first_per_asset,
            commands_create_get_and_pending,
            commands_state_machine_is_enforced,
            commands_expire_only_pending_ones_past_expiry,
            commands_list_newest_first_with_filters_and_pages,
            reidentify_makes_a_copy_with_the_source_facts,
            reidentify_reuses_only_an_unconnected_copy_of_the_same_source,
            rule_sources_import_replace_and_revision,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fixture = $factory.await;
                $crate::testsuite::$case($crate::testsuite::Fixture::store(&fixture)).await;
            }
        )+
    };
}
