use ward_proto::Policy;
use ward_store::{AssetLiveness, Status, StatusReason};

use crate::{Engine, Refusal, Transition};

/// Default policy: 30 s keepalives, 3 missed → a 90 s window.
const WINDOW: i64 = 90_000;
/// Server start time in these tests.
const T0: i64 = 1_700_000_000_000;

fn policy() -> Policy {
    Policy::default()
}

fn engine() -> Engine {
    Engine::new(policy(), T0)
}

fn enroll(e: &mut Engine, id: &str, at: i64) {
    e.add(
        id,
        Status::Unprotected,
        Some(StatusReason::NeverConnected),
        at,
        None,
    );
}

fn offline(id: &str, at: i64) -> Transition {
    Transition {
        asset_id: id.into(),
        status: Status::Unprotected,
        reason: Some(StatusReason::Offline),
        at,
        detail: Some("no keepalive for 90 s".into()),
    }
}

fn status_of(e: &Engine, id: &str) -> (Status, Option<StatusReason>, i64) {
    let a = e.get(id).expect("asset known");
    (a.status, a.reason, a.since)
}

/// Sweeps every second from `from` to `to` inclusive, collecting transitions.
fn sweep_range(e: &mut Engine, from: i64, to: i64) -> Vec<Transition> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        out.extend(e.sweep(t));
        t += 1000;
    }
    out
}

#[test]
fn the_default_window_is_three_keepalives() {
    assert_eq!(policy().offline_after_ms(), WINDOW);
}

#[test]
fn never_connected_asset_stays_so_without_transitions() {
    let mut e = engine();
    enroll(&mut e, "a", T0 + 1000);
    assert!(sweep_range(&mut e, T0, T0 + 10 * WINDOW).is_empty());
    assert_eq!(
        status_of(&e, "a"),
        (
            Status::Unprotected,
            Some(StatusReason::NeverConnected),
            T0 + 1000
        )
    );
}

#[test]
fn first_session_makes_the_asset_protected_at_once() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    let t = e
        .session_started("a", T0 + 5_000)
        .unwrap()
        .expect("a transition");
    assert_eq!(t.asset_id, "a");
    assert_eq!(t.status, Status::Protected);
    assert_eq!(t.reason, None);
    assert_eq!(t.at, T0 + 5_000);
    assert_eq!(status_of(&e, "a"), (Status::Protected, None, T0 + 5_000));
    assert_eq!(e.get("a").unwrap().live_sessions, 1);
}

#[test]
fn keepalives_inside_the_window_cause_no_transition() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    let mut out = Vec::new();
    for i in 1..=100 {
        let now = T0 + i * 30_000;
        assert_eq!(e.touch("a", now), None);
        out.extend(e.sweep(now + 500));
    }
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(e.get("a").unwrap().status, Status::Protected);
}

#[test]
fn silence_longer_than_the_window_goes_offline_once_since_last_seen() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    let last = T0 + 30_000;
    e.touch("a", last);
    // Exactly at the window: still protected. One ms later: offline.
    assert!(e.sweep(last + WINDOW).is_empty());
    assert_eq!(e.sweep(last + WINDOW + 1), vec![offline("a", last)]);
    // Nothing more while nothing changes.
    assert!(sweep_range(&mut e, last + WINDOW + 2, last + 20 * WINDOW).is_empty());
    assert_eq!(
        status_of(&e, "a"),
        (Status::Unprotected, Some(StatusReason::Offline), last)
    );
}

#[test]
fn session_end_alone_is_not_offline() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    e.touch("a", T0 + 10_000);
    e.session_ended("a");
    assert_eq!(e.get("a").unwrap().live_sessions, 0);
    assert!(sweep_range(&mut e, T0 + 10_000, T0 + 10_000 + WINDOW).is_empty());
    assert_eq!(e.get("a").unwrap().status, Status::Protected);
    // The window counts from the last sign of life, not from the end.
    assert_eq!(
        e.sweep(T0 + 10_000 + WINDOW + 1),
        vec![offline("a", T0 + 10_000)]
    );
}

#[test]
fn agent_restart_causes_no_transition() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    e.session_ended("a");
    assert_eq!(e.session_started("a", T0 + 2_000), Ok(None));
    assert!(sweep_range(&mut e, T0, T0 + 60_000).is_empty());
    assert_eq!(status_of(&e, "a"), (Status::Protected, None, T0));
}

#[test]
fn new_session_on_an_offline_asset_is_protected_at_once() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    e.session_ended("a");
    assert_eq!(e.sweep(T0 + WINDOW + 1), vec![offline("a", T0)]);
    let now = T0 + 500_000;
    let t = e.session_started("a", now).unwrap().expect("transition");
    assert_eq!((t.status, t.reason, t.at), (Status::Protected, None, now));
}

#[test]
fn silent_live_session_goes_offline_and_a_frame_brings_it_back() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    assert_eq!(e.sweep(T0 + WINDOW + 1), vec![offline("a", T0)]);
    let back = T0 + WINDOW + 5_000;
    let t = e.touch("a", back).expect("transition");
    assert_eq!((t.status, t.reason, t.at), (Status::Protected, None, back));
    assert_eq!(e.touch("a", back + 1), None);
}

#[test]
fn touch_without_a_live_session_or_for_unknown_assets_does_nothing() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    assert_eq!(e.touch("a", T0 + 1), None);
    assert_eq!(e.touch("nobody", T0 + 1), None);
    assert_eq!(e.get("a").unwrap().last_seen, None);
    assert!(e.take_seen().is_empty());
}

#[test]
fn restart_grace_no_storm_and_late_offline_with_real_last_seen() {
    // Before the restart: "a" and "b" were protected, last seen 5 min before
    // the new start; "c" was already offline; "d" never connected.
    let seen = T0 - 300_000;
    let mut e = engine();
    e.load([
        AssetLiveness {
            asset_id: "a".into(),
            status: Status::Protected,
            status_reason: None,
            status_since: T0 - 900_000,
            last_seen: Some(seen),
        },
        AssetLiveness {
            asset_id: "b".into(),
            status: Status::Protected,
            status_reason: None,
            status_since: T0 - 900_000,
            last_seen: Some(seen),
        },
        AssetLiveness {
            asset_id: "c".into(),
            status: Status::Unprotected,
            status_reason: Some(StatusReason::Offline),
            status_since: T0 - 800_000,
            last_seen: Some(T0 - 800_000),
        },
        AssetLiveness {
            asset_id: "d".into(),
            status: Status::Unprotected,
            status_reason: Some(StatusReason::NeverConnected),
            status_since: T0 - 700_000,
            last_seen: None,
        },
    ]);
    // Nobody is declared offline during the grace window.
    assert!(sweep_range(&mut e, T0, T0 + WINDOW).is_empty());
    // "a" reconnects within the grace: no transition at all.
    assert_eq!(e.session_started("a", T0 + 20_000), Ok(None));
    e.touch("a", T0 + WINDOW);
    // After the grace only "b" goes offline, since its real last_seen.
    assert_eq!(e.sweep(T0 + WINDOW + 1), vec![offline("b", seen)]);
    assert!(sweep_range(&mut e, T0 + WINDOW + 2, T0 + WINDOW + 60_000).is_empty());
    assert_eq!(
        status_of(&e, "c"),
        (
            Status::Unprotected,
            Some(StatusReason::Offline),
            T0 - 800_000
        )
    );
    assert_eq!(
        status_of(&e, "d"),
        (
            Status::Unprotected,
            Some(StatusReason::NeverConnected),
            T0 - 700_000
        )
    );
}

#[test]
fn uninstalled_is_terminal() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    let t = e.uninstalled("a", T0 + 1_000).expect("transition");
    assert_eq!(
        (t.status, t.reason, t.at),
        (
            Status::Unprotected,
            Some(StatusReason::Uninstalled),
            T0 + 1_000
        )
    );
    assert_eq!(e.uninstalled("a", T0 + 2_000), None);
    assert_eq!(e.touch("a", T0 + 3_000), None);
    assert_eq!(
        e.session_started("a", T0 + 4_000),
        Err(Refusal::Uninstalled)
    );
    assert!(sweep_range(&mut e, T0, T0 + 5 * WINDOW).is_empty());
    // A repeated enrollment cannot resurrect it either.
    e.add("a", Status::Protected, None, T0 + 5_000, Some(T0 + 5_000));
    assert_eq!(
        status_of(&e, "a"),
        (
            Status::Unprotected,
            Some(StatusReason::Uninstalled),
            T0 + 1_000
        )
    );
}

#[test]
fn uninstalled_assets_loaded_at_start_refuse_sessions() {
    let mut e = engine();
    e.load([AssetLiveness {
        asset_id: "u".into(),
        status: Status::Unprotected,
        status_reason: Some(StatusReason::Uninstalled),
        status_since: T0 - 1,
        last_seen: Some(T0 - 1),
    }]);
    assert_eq!(e.session_started("u", T0), Err(Refusal::Uninstalled));
}

#[test]
fn shorter_policy_gives_a_fresh_window_from_the_change() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    let change = T0 + 60_000;
    let short = Policy {
        keepalive_secs: 1,
        missed_keepalives: 3,
        ..policy()
    };
    e.set_policy(short, change);
    assert_eq!(e.policy(), short);
    // Last seen 60 s ago, far beyond the new 3 s window, but the window
    // counts from the change.
    assert!(e.sweep(change + 3_000).is_empty());
    assert_eq!(
        e.sweep(change + 3_001),
        vec![{
            let mut t = offline("a", T0);
            t.detail = Some("no keepalive for 3 s".into());
            t
        }]
    );
}

#[test]
fn longer_policy_keeps_an_asset_protected_longer() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    e.set_policy(
        Policy {
            missed_keepalives: 10,
            ..policy()
        },
        T0 + 1_000,
    );
    assert!(sweep_range(&mut e, T0, T0 + 300_000).is_empty());
    assert_eq!(e.sweep(T0 + 300_001).len(), 1);
}

#[test]
fn overlapping_sessions_are_counted() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    e.session_started("a", T0).unwrap();
    assert_eq!(e.session_started("a", T0 + 1), Ok(None));
    assert_eq!(e.get("a").unwrap().live_sessions, 2);
    e.session_ended("a");
    e.session_ended("a");
    e.session_ended("a");
    assert_eq!(e.get("a").unwrap().live_sessions, 0);
}

#[test]
fn take_seen_reports_each_seen_asset_once_with_its_latest_time() {
    let mut e = engine();
    enroll(&mut e, "a", T0);
    enroll(&mut e, "b", T0);
    e.session_started("a", T0 + 1).unwrap();
    e.session_started("b", T0 + 2).unwrap();
    e.touch("a", T0 + 10);
    e.touch("a", T0 + 20);
    let mut seen = e.take_seen();
    seen.sort();
    assert_eq!(
        seen,
        vec![("a".to_string(), T0 + 20), ("b".to_string(), T0 + 2)]
    );
    assert!(e.take_seen().is_empty());
    // last_seen never moves backwards.
    e.touch("a", T0 + 5);
    assert!(e.take_seen().is_empty());
    assert_eq!(e.get("a").unwrap().last_seen, Some(T0 + 20));
}

#[test]
fn counts_group_assets_by_status_and_reason() {
    let mut e = engine();
    for id in ["a", "b", "c"] {
        enroll(&mut e, id, T0);
    }
    e.session_started("a", T0).unwrap();
    e.session_started("b", T0).unwrap();
    let counts = e.counts();
    assert!(counts.contains(&(Status::Protected, None, 2)));
    assert!(counts.contains(&(Status::Unprotected, Some(StatusReason::NeverConnected), 1)));
    assert_eq!(counts.iter().map(|c| c.2).sum::<u64>(), 3);
}

#[test]
fn session_for_an_asset_the_engine_did_not_know_is_protected() {
    let mut e = engine();
    let t = e
        .session_started("new", T0 + 7)
        .unwrap()
        .expect("transition");
    assert_eq!((t.status, t.at), (Status::Protected, T0 + 7));
    assert_eq!(e.len(), 1);
}
