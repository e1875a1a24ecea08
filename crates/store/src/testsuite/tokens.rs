//! API tokens and the policy setting.

use super::support::T0;
use crate::{ApiToken, Store, StoreError};
use ward_proto::Policy;

fn token(id: &str, created_at: i64) -> ApiToken {
    ApiToken {
        id: id.to_string(),
        label: format!("label of {id}"),
        created_at,
        last_used_at: None,
        revoked_at: None,
    }
}

fn hash(id: &str) -> String {
    format!("sha256-of-token-{id}")
}

pub async fn api_tokens_create_use_list_revoke(store: &dyn Store) {
    assert!(store.list_api_tokens().await.expect("list").is_empty());
    let (a, b) = (token("tok_a", T0), token("tok_b", T0 + 1));
    store
        .create_api_token(&a, &hash(&a.id))
        .await
        .expect("create");
    store
        .create_api_token(&b, &hash(&b.id))
        .await
        .expect("create");

    let used_at = T0 + 100;
    let used = store
        .use_api_token(&hash(&a.id), used_at)
        .await
        .expect("use");
    let a_used = ApiToken {
        last_used_at: Some(used_at),
        ..a.clone()
    };
    assert_eq!(used, Some(a_used.clone()));
    assert_eq!(
        store
            .use_api_token("sha256-unknown", used_at)
            .await
            .expect("use"),
        None
    );
    assert_eq!(
        store.use_api_token(&a.id, used_at).await.expect("use"),
        None,
        "an id is not a hash"
    );

    let mut listed = store.list_api_tokens().await.expect("list");
    listed.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(listed, vec![a_used.clone(), b.clone()]);

    let revoked_at = T0 + 200;
    let revoked = store
        .revoke_api_token(&a.id, revoked_at)
        .await
        .expect("revoke");
    let a_revoked = ApiToken {
        revoked_at: Some(revoked_at),
        ..a_used
    };
    assert_eq!(revoked, a_revoked);
    assert_eq!(
        store
            .revoke_api_token(&a.id, revoked_at + 1)
            .await
            .expect("revoke again"),
        a_revoked,
        "second revoke keeps the first time"
    );
    assert_eq!(
        store
            .use_api_token(&hash(&a.id), T0 + 300)
            .await
            .expect("use"),
        None,
        "a revoked token is not usable"
    );
    // The other token still works.
    assert_eq!(
        store
            .use_api_token(&hash(&b.id), T0 + 300)
            .await
            .expect("use"),
        Some(ApiToken {
            last_used_at: Some(T0 + 300),
            ..b.clone()
        })
    );
    let mut listed = store.list_api_tokens().await.expect("list");
    listed.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(listed[0], a_revoked, "revoked tokens stay listed");

    let err = store
        .revoke_api_token("tok_missing", T0)
        .await
        .expect_err("missing token");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn api_token_duplicate_hash_conflicts(store: &dyn Store) {
    let a = token("tok_1", T0);
    store
        .create_api_token(&a, "same-hash")
        .await
        .expect("create");
    let err = store
        .create_api_token(&token("tok_2", T0), "same-hash")
        .await
        .expect_err("duplicate hash");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store
        .create_api_token(&a, "other-hash")
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.list_api_tokens().await.expect("list"), vec![a]);
}

pub async fn policy_get_and_set(store: &dyn Store) {
    assert_eq!(
        store.get_policy().await.expect("get"),
        None,
        "unset at first"
    );
    let p1 = Policy {
        keepalive_secs: 7,
        missed_keepalives: 4,
        report_interval_secs: 600,
    };
    store.set_policy(&p1).await.expect("set");
    assert_eq!(store.get_policy().await.expect("get"), Some(p1));
    let p2 = Policy {
        keepalive_secs: 30,
        ..p1
    };
    store.set_policy(&p2).await.expect("set again");
    assert_eq!(store.get_policy().await.expect("get"), Some(p2));
    assert!(!store.backend().is_empty(), "a backend names itself");
}
