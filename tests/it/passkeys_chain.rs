//! The sign-in's write on SQLite's direct writer (store/direct.rs) and its fallbacks to
//! the pooled path: a sign-in whose account has failures to clear, one whose audit entry
//! is due a checkpoint, one after the process's head hint went stale (a rolled-back
//! append). Every sign-in is audited once with one session, and the chain stays intact.
//! On PostgreSQL the same sequence runs through the pool only.

use crate::passkeys::{enrol, finish, login, world, Device, HOST};
use reqwest::StatusCode;
use serde_json::Value;
use tenantry::core::audit::{self, Actor, Change};

fn change(action: &'static str) -> Change<'static> {
    Change {
        action,
        target: "test".into(),
        before: None,
        after: None,
    }
}

async fn count(app: &crate::support::TestApp, sql: &str) -> i64 {
    let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.core.store.pool())
        .await
        .expect("count");
    row.0
}

#[tokio::test]
async fn sign_ins_keep_the_audit_chain_whole_on_every_path() {
    let (app, path) = world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    let tenant = app.core.find_tenant("globex-acme").await.expect("tenant");
    let id = tenant.id.clone();
    let mut signed_in = 0;

    // The common path, twice.
    for _ in 0..2 {
        let r = login(&app, &mut dev).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        signed_in += 1;
    }

    // A refused assertion leaves a failure to clear: the next sign-in clears it.
    let (c, mut a) = crate::passkeys::assertion(&app, &mut dev, HOST).await;
    if let Value::String(sig) = &mut a["response"]["signature"] {
        sig.replace_range(4..8, if &sig[4..8] == "AAAA" { "BBBB" } else { "AAAA" });
    }
    let r = finish(&app, HOST, &c, &a).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let failed = "SELECT COALESCE(MAX(failed_logins), 0) FROM users";
    assert!(count(&app, failed).await > 0);
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    signed_in += 1;
    assert_eq!(
        count(&app, failed).await,
        0,
        "a success clears the failures"
    );

    // A rolled-back append leaves this process's head hint ahead of the stored head.
    let mut tx = app.core.store.begin().await.expect("tx");
    audit::append(
        &app.core.keys,
        &mut tx,
        &id,
        &Actor::cli(),
        change("test.ghost"),
        1,
        None,
    )
    .await
    .expect("append");
    tx.rollback().await.expect("rollback");
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    signed_in += 1;

    // Bring the chain to just before a checkpoint, then sign in across it.
    let mut conn = app.core.store.conn().await.expect("conn");
    let seq = tenantry::store::audit::entries(&mut conn, &id)
        .await
        .expect("entries")
        .len() as i64;
    drop(conn);
    let step = audit::CHECKPOINT_EVERY;
    for _ in seq..(seq / step + 1) * step - 2 {
        let mut tx = app.core.store.begin().await.expect("tx");
        audit::append(
            &app.core.keys,
            &mut tx,
            &id,
            &Actor::cli(),
            change("test.fill"),
            1,
            None,
        )
        .await
        .expect("append");
        tx.commit().await.expect("commit");
    }
    let checkpoints = "SELECT COUNT(*) FROM audit_checkpoints";
    let before = count(&app, checkpoints).await;
    for _ in 0..3 {
        let r = login(&app, &mut dev).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        signed_in += 1;
    }
    assert_eq!(
        count(&app, checkpoints).await,
        before + 1,
        "the due checkpoint was signed"
    );

    let logins = "SELECT COUNT(*) FROM audit_log WHERE action = 'login.passkey'";
    assert_eq!(count(&app, logins).await, signed_in);
    let sessions = "SELECT COUNT(*) FROM sessions WHERE amr LIKE '%webauthn%'";
    assert_eq!(
        count(&app, sessions).await,
        signed_in + 1,
        "one more from enrolment"
    );
    let mut conn = app.core.store.conn().await.expect("conn");
    let entries = tenantry::store::audit::entries(&mut conn, &id)
        .await
        .expect("entries");
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let v = audit::verify(&mut conn, &id).await.expect("verify");
    assert!(v.intact, "{v:?}");
}

/// Two finishes of one ceremony at once (the ceremony is read first and deleted by the
/// sign-in's own transaction on SQLite): exactly one signs in; the other is refused and
/// writes nothing.
#[tokio::test]
async fn one_ceremony_signs_in_once_even_when_finished_twice_at_once() {
    let (app, path) = world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    let (c, a) = crate::passkeys::assertion(&app, &mut dev, HOST).await;
    let (one, two) = tokio::join!(finish(&app, HOST, &c, &a), finish(&app, HOST, &c, &a));
    let mut statuses = [one.status, two.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::BAD_REQUEST],
        "{} / {}",
        one.text,
        two.text
    );
    let refused = if one.status == StatusCode::OK {
        &two
    } else {
        &one
    };
    assert_eq!(
        refused.body["error"], "ceremony_invalid",
        "{}",
        refused.text
    );
    let logins = "SELECT COUNT(*) FROM audit_log WHERE action = 'login.passkey'";
    assert_eq!(count(&app, logins).await, 1);
    // And the ceremony is gone for good.
    let again = finish(&app, HOST, &c, &a).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
}
