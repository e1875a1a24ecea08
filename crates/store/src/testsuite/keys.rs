//! Verification keys.

use super::support::{new_key, T0};
use crate::{NewKey, Store, StoreError, VerificationKey};

fn expected(k: &NewKey) -> VerificationKey {
    VerificationKey {
        id: k.id.clone(),
        secret: k.secret.clone(),
        label: k.label.clone(),
        default_group: k.default_group.clone(),
        created_at: k.created_at,
        revoked_at: None,
    }
}

pub async fn keys_create_get_list_find(store: &dyn Store) {
    let inputs = [
        new_key("key_a", Some("web"), T0),
        new_key("key_b", None, T0 + 1),
        new_key("key_c", Some("db servers"), T0 + 2),
    ];
    for k in &inputs {
        let created = store.create_key(k.clone()).await.expect("create_key");
        assert_eq!(created, expected(k));
    }
    for k in &inputs {
        assert_eq!(
            store.get_key(&k.id).await.expect("get_key"),
            Some(expected(k))
        );
        assert_eq!(
            store
                .find_key_by_secret(&k.secret)
                .await
                .expect("find_key_by_secret"),
            Some(expected(k))
        );
    }
    assert_eq!(store.get_key("key_missing").await.expect("get_key"), None);
    assert_eq!(
        store.find_key_by_secret("wk_missing").await.expect("find"),
        None
    );
    // A key id is not a secret and vice versa.
    assert_eq!(store.find_key_by_secret("key_a").await.expect("find"), None);
    assert_eq!(store.get_key(&inputs[0].secret).await.expect("get"), None);

    let mut listed = store.list_keys().await.expect("list_keys");
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut want: Vec<VerificationKey> = inputs.iter().map(expected).collect();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, want);
}

pub async fn keys_duplicate_id_or_secret_conflicts(store: &dyn Store) {
    let first = new_key("key_dup", None, T0);
    store.create_key(first.clone()).await.expect("create_key");

    let same_id = NewKey {
        secret: "wk_other_secret".into(),
        ..first.clone()
    };
    let err = store
        .create_key(same_id)
        .await
        .expect_err("same id must fail");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let same_secret = NewKey {
        id: "key_other".into(),
        ..first.clone()
    };
    let err = store
        .create_key(same_secret)
        .await
        .expect_err("same secret must fail");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    assert_eq!(
        store.list_keys().await.expect("list"),
        vec![expected(&first)]
    );
}

pub async fn keys_revoke_twice_keeps_first_time(store: &dyn Store) {
    let k = new_key("key_r", Some("g"), T0);
    let other = new_key("key_keep", None, T0);
    store.create_key(k.clone()).await.expect("create");
    store.create_key(other.clone()).await.expect("create");

    let first_at = T0 + 10;
    let revoked = store.revoke_key(&k.id, first_at).await.expect("revoke");
    let want = VerificationKey {
        revoked_at: Some(first_at),
        ..expected(&k)
    };
    assert_eq!(revoked, want);

    let again = store
        .revoke_key(&k.id, first_at + 10)
        .await
        .expect("revoke again");
    assert_eq!(again, want, "second revoke keeps the first time");
    assert_eq!(store.get_key(&k.id).await.expect("get"), Some(want.clone()));
    // Still found by secret, so the server can answer "key revoked".
    assert_eq!(
        store.find_key_by_secret(&k.secret).await.expect("find"),
        Some(want)
    );
    assert_eq!(
        store.get_key(&other.id).await.expect("get"),
        Some(expected(&other)),
        "revoking one key leaves the others alone"
    );

    let err = store
        .revoke_key("key_missing", first_at)
        .await
        .expect_err("missing key");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}
