//! Commands (queue, expiry, state machine) and re-identified copies.

use super::support::{add_host, credential_hash, enrollment, ensure_key, report, T0};
use crate::{
    AssetQuery, CommandQuery, CommandRecord, CommandState, CommandUpdate, NewCommand,
    Reidentification, SessionStart, Status, StatusReason, Store, StoreError,
};
use ward_proto::{CommandKind, Signed};

fn cmd(id: &str, asset: &str, created_at: i64, expires_at: i64) -> NewCommand {
    NewCommand {
        id: id.to_string(),
        asset_id: asset.to_string(),
        kind: CommandKind::Uninstall,
        envelope: Signed {
            payload: format!("{{\"id\":\"{id}\"}}"),
            signature: format!("sig-of-{id}"),
        },
        created_at,
        expires_at,
        created_by: "api".to_string(),
    }
}

/// The record a fresh command must be stored as, from the input alone.
fn pending(c: &NewCommand) -> CommandRecord {
    CommandRecord {
        id: c.id.clone(),
        asset_id: c.asset_id.clone(),
        kind: c.kind,
        envelope: c.envelope.clone(),
        state: CommandState::Pending,
        created_at: c.created_at,
        expires_at: c.expires_at,
        delivered_at: None,
        finished_at: None,
        result: None,
        created_by: c.created_by.clone(),
    }
}

fn upd(state: CommandState, at: i64, result: Option<&str>) -> CommandUpdate {
    CommandUpdate {
        state,
        at,
        result: result.map(str::to_string),
    }
}

fn ids(v: &[CommandRecord]) -> Vec<&str> {
    v.iter().map(|c| c.id.as_str()).collect()
}

pub async fn commands_create_get_and_pending(store: &dyn Store) {
    add_host(store, "as_a", "a", &[]).await;
    add_host(store, "as_b", "b", &[]).await;
    let c1 = cmd("cmd_1", "as_a", T0, T0 + 60_000);
    let c2 = cmd("cmd_2", "as_a", T0 + 10, T0 + 5_000);
    let c3 = cmd("cmd_3", "as_b", T0 + 20, T0 + 60_000);
    let mut u = cmd("cmd_4", "as_a", T0 + 30, T0 + 60_000);
    u.kind = CommandKind::UpdateCheck;
    for c in [&c1, &c2, &c3, &u] {
        assert_eq!(store.create_command(c).await.expect("create"), pending(c));
    }
    assert_eq!(
        store.get_command("cmd_4").await.expect("get"),
        Some(pending(&u))
    );
    assert_eq!(store.get_command("cmd_none").await.expect("get"), None);

    let a = vec!["as_a".to_string()];
    let got = store.pending_commands(&a, T0 + 100).await.expect("pending");
    assert_eq!(ids(&got), ["cmd_1", "cmd_2", "cmd_4"], "oldest first");
    // cmd_2 expires at T0 + 5000: not pending at that time any more.
    let got = store
        .pending_commands(&a, T0 + 5_000)
        .await
        .expect("pending");
    assert_eq!(ids(&got), ["cmd_1", "cmd_4"]);
    let both = vec!["as_b".to_string(), "as_a".to_string()];
    let got = store
        .pending_commands(&both, T0 + 100)
        .await
        .expect("pending");
    assert_eq!(ids(&got), ["cmd_1", "cmd_2", "cmd_3", "cmd_4"]);
    assert!(store
        .pending_commands(&[], T0)
        .await
        .expect("pending")
        .is_empty());

    assert!(matches!(
        store
            .create_command(&cmd("cmd_1", "as_b", T0, T0 + 1))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_command(&cmd("cmd_9", "as_missing", T0, T0 + 1))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn commands_state_machine_is_enforced(store: &dyn Store) {
    add_host(store, "as_a", "a", &[]).await;
    for (i, id) in ["c_acc", "c_rej", "c_can"].iter().enumerate() {
        store
            .create_command(&cmd(id, "as_a", T0 + i as i64, T0 + 60_000))
            .await
            .expect("create");
    }
    let d = store
        .update_command("c_acc", &upd(CommandState::Delivered, T0 + 100, None))
        .await
        .expect("deliver");
    assert_eq!(d.state, CommandState::Delivered);
    assert_eq!(
        (d.delivered_at, d.finished_at, d.result),
        (Some(T0 + 100), None, None)
    );
    let done = store
        .update_command(
            "c_acc",
            &upd(CommandState::Done, T0 + 200, Some("removed 7 paths")),
        )
        .await
        .expect("done");
    assert_eq!(
        (done.state, done.delivered_at, done.finished_at),
        (CommandState::Done, Some(T0 + 100), Some(T0 + 200))
    );
    assert_eq!(done.result.as_deref(), Some("removed 7 paths"));
    assert_eq!(
        store.get_command("c_acc").await.expect("get"),
        Some(done.clone())
    );
    // Final states do not move.
    for to in [
        CommandState::Failed,
        CommandState::Pending,
        CommandState::Delivered,
        CommandState::Expired,
    ] {
        assert!(
            matches!(
                store
                    .update_command("c_acc", &upd(to, T0 + 300, None))
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "done -> {to:?}"
        );
    }
    assert_eq!(store.get_command("c_acc").await.expect("get"), Some(done));

    let r = store
        .update_command(
            "c_rej",
            &upd(CommandState::Rejected, T0 + 400, Some("bad signature")),
        )
        .await
        .expect("reject");
    assert_eq!(
        (r.delivered_at, r.finished_at, r.result.as_deref()),
        (Some(T0 + 400), Some(T0 + 400), Some("bad signature"))
    );
    let c = store
        .update_command("c_can", &upd(CommandState::Cancelled, T0 + 500, None))
        .await
        .expect("cancel");
    assert_eq!((c.delivered_at, c.finished_at), (None, Some(T0 + 500)));
    assert!(matches!(
        store
            .update_command("c_none", &upd(CommandState::Done, T0, None))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Nothing of these is pending any more.
    assert!(store
        .pending_commands(&["as_a".to_string()], T0)
        .await
        .expect("pending")
        .is_empty());
}

pub async fn commands_expire_only_pending_ones_past_expiry(store: &dyn Store) {
    add_host(store, "as_a", "a", &[]).await;
    store
        .create_command(&cmd("c_short", "as_a", T0, T0 + 1_000))
        .await
        .expect("create");
    store
        .create_command(&cmd("c_long", "as_a", T0, T0 + 90_000))
        .await
        .expect("create");
    store
        .create_command(&cmd("c_taken", "as_a", T0, T0 + 1_000))
        .await
        .expect("create");
    store
        .update_command("c_taken", &upd(CommandState::Delivered, T0 + 10, None))
        .await
        .expect("deliver");
    assert!(store
        .expire_commands(T0 + 999)
        .await
        .expect("expire")
        .is_empty());
    let gone = store.expire_commands(T0 + 1_000).await.expect("expire");
    assert_eq!(ids(&gone), ["c_short"]);
    assert_eq!(gone[0].state, CommandState::Expired);
    assert_eq!(gone[0].finished_at, Some(T0 + 1_000));
    assert_eq!(gone[0].delivered_at, None);
    assert!(store
        .expire_commands(T0 + 2_000)
        .await
        .expect("again")
        .is_empty());
    let taken = store
        .get_command("c_taken")
        .await
        .expect("get")
        .expect("c_taken");
    assert_eq!(
        taken.state,
        CommandState::Delivered,
        "delivered never expires"
    );
    let long = store
        .get_command("c_long")
        .await
        .expect("get")
        .expect("c_long");
    assert_eq!(long.state, CommandState::Pending);
}

pub async fn commands_list_newest_first_with_filters_and_pages(store: &dyn Store) {
    add_host(store, "as_a", "a", &[]).await;
    add_host(store, "as_b", "b", &[]).await;
    let mut made = Vec::new();
    for i in 0..7 {
        let asset = if i % 2 == 0 { "as_a" } else { "as_b" };
        let id = format!("c_{i}");
        store
            .create_command(&cmd(&id, asset, T0 + i, T0 + 60_000))
            .await
            .expect("create");
        made.push((id, asset));
    }
    store
        .update_command("c_2", &upd(CommandState::Cancelled, T0 + 100, None))
        .await
        .expect("cancel");
    // Reference: newest first by creation.
    let want: Vec<String> = made.iter().rev().map(|(id, _)| id.clone()).collect();
    let mut q = CommandQuery {
        limit: 3,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_commands(&q).await.expect("list");
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|c| c.id));
        match page.next_cursor {
            Some(c) => q.before = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, want);

    let only_a = store
        .list_commands(&CommandQuery {
            asset_id: Some("as_a".into()),
            ..Default::default()
        })
        .await
        .expect("list a");
    let want_a: Vec<&str> = made
        .iter()
        .rev()
        .filter(|(_, a)| *a == "as_a")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(ids(&only_a.items), want_a);
    assert_eq!(only_a.next_cursor, None);
    let cancelled = store
        .list_commands(&CommandQuery {
            state: Some(CommandState::Cancelled),
            ..Default::default()
        })
        .await
        .expect("list cancelled");
    assert_eq!(ids(&cancelled.items), ["c_2"]);
    assert!(matches!(
        store
            .list_commands(&CommandQuery {
                before: Some("not-a-cursor".into()),
                ..Default::default()
            })
            .await,
        Err(StoreError::NotFound(_))
    ));
}

fn reid(source: &str, new_id: &str, fp: &str, at: i64) -> Reidentification {
    Reidentification {
        source_id: source.to_string(),
        new_id: new_id.to_string(),
        fingerprint: fp.to_string(),
        credential_hash: credential_hash(new_id),
        reason: "fingerprint differs".to_string(),
        at,
    }
}

pub async fn reidentify_makes_a_copy_with_the_source_facts(store: &dyn Store) {
    ensure_key(store, "key_web", Some("web")).await;
    let e = enrollment(
        "as_src",
        "key_web",
        "fp-src",
        report("web-01", &["192.0.2.10"]),
        T0,
    );
    let src = store.enroll(e).await.expect("enroll").asset;
    let done = store
        .reidentify(&reid("as_src", "as_copy", "fp-copy", T0 + 50))
        .await
        .expect("reidentify");
    assert!(!done.reclaimed);
    let c = &done.asset;
    assert_eq!(c.id, "as_copy");
    assert_eq!(c.fingerprint, "fp-copy");
    assert_eq!(
        (&c.hostname, &c.ips, &c.os, &c.platform, &c.group),
        (&src.hostname, &src.ips, &src.os, &src.platform, &src.group)
    );
    assert_eq!(c.enrolled_with_key, src.enrolled_with_key);
    assert_eq!(
        (c.status, c.status_reason, c.status_since, c.enrolled_at),
        (
            Status::Unprotected,
            Some(StatusReason::NeverConnected),
            T0 + 50,
            T0 + 50
        )
    );
    assert_eq!((c.first_seen, c.last_seen), (None, None));
    let auth = store
        .agent_auth("as_copy")
        .await
        .expect("auth")
        .expect("copy");
    assert_eq!(auth.credential_hash, credential_hash("as_copy"));
    assert_eq!(auth.fingerprint, "fp-copy");
    // The source keeps its identity.
    let sauth = store
        .agent_auth("as_src")
        .await
        .expect("auth")
        .expect("src");
    assert_eq!(sauth.credential_hash, credential_hash("as_src"));
    assert_eq!(sauth.fingerprint, "fp-src");
    let tl = store.status_events("as_copy", 10).await.expect("timeline");
    assert_eq!(tl.len(), 1);
    let detail = tl[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("as_src") && detail.contains("fingerprint differs"),
        "{detail}"
    );
    assert_eq!(
        store.clone_source("as_copy").await.expect("src"),
        Some("as_src".to_string())
    );
    assert_eq!(store.clone_source("as_src").await.expect("src"), None);
    let all = store
        .list_assets(&AssetQuery::default())
        .await
        .expect("list");
    assert_eq!(all.items.len(), 2);
}

pub async fn reidentify_reuses_only_an_unconnected_copy_of_the_same_source(store: &dyn Store) {
    add_host(store, "as_src", "h", &[]).await;
    add_host(store, "as_other", "o", &[]).await;
    let first = store
        .reidentify(&reid("as_src", "as_c1", "fp-x", T0 + 1))
        .await
        .expect("first");
    assert!(!first.reclaimed);
    // The answer was lost; the copy asks again: same asset, new credential.
    let mut again = reid("as_src", "as_c1b", "fp-x", T0 + 2);
    again.credential_hash = credential_hash("second try");
    let second = store.reidentify(&again).await.expect("second");
    assert!(second.reclaimed);
    assert_eq!(second.asset.id, "as_c1");
    assert_eq!(
        store
            .agent_auth("as_c1")
            .await
            .expect("a")
            .expect("c1")
            .credential_hash,
        credential_hash("second try")
    );
    assert_eq!(store.get_asset("as_c1b").await.expect("get"), None);
    // Another source's copy with the same fingerprint is a new asset.
    let other = store
        .reidentify(&reid("as_other", "as_c2", "fp-x", T0 + 3))
        .await
        .expect("other source");
    assert!(!other.reclaimed);
    // Once the copy has connected, it is never reclaimed.
    store
        .record_session_start(
            "as_c1",
            &SessionStart {
                at: T0 + 10,
                addr: "192.0.2.1:1".into(),
                endpoint: None,
                last_error: None,
                agent_version: "0.1.0".into(),
            },
        )
        .await
        .expect("session");
    let third = store
        .reidentify(&reid("as_src", "as_c3", "fp-x", T0 + 20))
        .await
        .expect("third");
    assert!(!third.reclaimed);
    assert_eq!(third.asset.id, "as_c3");
    // An ordinary asset with that fingerprint is never touched.
    assert!(
        !store
            .reidentify(&reid("as_src", "as_c4", "fp-as_other", T0 + 30))
            .await
            .expect("fourth")
            .reclaimed
    );
    assert_eq!(
        store
            .agent_auth("as_other")
            .await
            .expect("a")
            .expect("o")
            .credential_hash,
        credential_hash("as_other")
    );
    assert!(matches!(
        store
            .reidentify(&reid("as_missing", "as_c5", "fp-y", T0))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .reidentify(&reid("as_src", "as_other", "fp-z", T0))
            .await,
        Err(StoreError::Conflict(_))
    ));
}
