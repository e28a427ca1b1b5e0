//! Issue 5 leftovers: break-glass unlock and recovery (CLI and admin API, rule 6),
//! enrolment refused for inactive users, the lockout window and lock expiry, failures
//! counted per account whatever the address, and the MSP banner on the account page.
//! Driven through `router(state)` with the soft passkey of tests/it/passkeys.rs.

use crate::passkeys::{
    assertion, audit_count, enrol, finish, login, post, send, Device, B64, HOST, ORIGIN, TENANT,
};
use crate::support::{test_app, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};
use tenantry::core::admins::AdminSpec;
use tenantry::core::audit::Actor;
use tenantry::core::tenants::NewTenant;

const PAT: &str = "pat@globex.example";

/// An admin created through core: (enrolment path, user id, membership id).
async fn admin_with_link(
    app: &TestApp,
    email: &str,
    org: Option<OrgAccess>,
    grants: Vec<Grant>,
) -> (String, String, String) {
    let spec = AdminSpec::new(email, None, org, grants).expect("spec");
    let created = app
        .core
        .add_admin(TENANT, spec, &Actor::cli())
        .await
        .expect("admin");
    let url = url::Url::parse(&created.enrolment_url).expect("url");
    (
        url.path().to_string(),
        created.user_id,
        created.membership_id,
    )
}

/// Acme with customer Globex and Pat (org full) enrolled on `dev`.
async fn enrolled() -> (TestApp, Device, String, String) {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    let (path, user, membership) = admin_with_link(&app, PAT, Some(OrgAccess::Full), vec![]).await;
    let mut dev = Device::new();
    let r = enrol(&app, &mut dev, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (app, dev, user, membership)
}

fn tamper(a: &Value) -> Value {
    let mut a = a.clone();
    let mut sig = B64
        .decode(a["response"]["signature"].as_str().expect("signature"))
        .expect("b64");
    let last = sig.len() - 1;
    sig[last] ^= 1;
    a["response"]["signature"] = json!(B64.encode(sig));
    a
}

/// One failed assertion (a tampered signature) of `dev`'s credential.
async fn fail_once(app: &TestApp, dev: &mut Device) -> Value {
    let (c, a) = assertion(app, dev, HOST).await;
    let r = finish(app, HOST, &c, &tamper(&a)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    r.body
}

/// The same, from a given client address.
async fn fail_from(app: &TestApp, dev: &mut Device, ip: &str) -> Value {
    let addr: std::net::SocketAddr = format!("{ip}:40000").parse().expect("addr");
    let json_post = |path: &str, body: Value| {
        let mut req = Request::post(path)
            .header("host", HOST)
            .header("origin", ORIGIN)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        req
    };
    let start = app.request(json_post("/login/start", json!({}))).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let start: Value = serde_json::from_str(&start.body).expect("json");
    let cred = dev.assert(ORIGIN, &start["options"]);
    let r = app
        .request(json_post(
            "/login/finish",
            json!({"ceremony": start["ceremony"], "credential": tamper(&cred)}),
        ))
        .await;
    serde_json::from_str(&r.body).expect("json")
}

async fn audit_actor(app: &TestApp, action: &str) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT actor FROM audit_log WHERE action = $1 ORDER BY seq")
            .bind(action)
            .fetch_all(app.core.store.pool())
            .await
            .expect("audit");
    rows.into_iter().map(|r| r.0).collect()
}

fn run_cli(app: &TestApp, args: &[&str]) -> Value {
    let out = app.env.command().args(args).output().expect("run tenantry");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[tokio::test]
async fn cli_unlock_lifts_the_lock_and_clears_the_failures() {
    let (app, mut dev, _, _) = enrolled().await;
    for _ in 0..5 {
        fail_once(&app, &mut dev).await;
    }
    assert_eq!(login(&app, &mut dev).await.body["error"], "locked");
    let out = run_cli(
        &app,
        &[
            "admin",
            "unlock",
            "--tenant",
            TENANT,
            "--email",
            "PAT@globex.example",
        ],
    );
    assert_eq!(out["email"], PAT);
    assert_eq!(out["was_locked"], true);
    assert_eq!(out["failed_logins"], 5);
    assert_eq!(audit_actor(&app, "admin.unlock").await, vec!["cli"]);
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The counters were cleared: four more failures do not lock.
    let (app, mut dev, _, _) = enrolled().await;
    for _ in 0..4 {
        fail_once(&app, &mut dev).await;
    }
    app.core
        .cli_unlock_admin(TENANT, PAT, &Actor::cli())
        .await
        .expect("unlock");
    for _ in 0..4 {
        fail_once(&app, &mut dev).await;
    }
    assert_eq!(login(&app, &mut dev).await.status, StatusCode::OK);

    // An unknown e-mail is bad input.
    let out = app
        .env
        .command()
        .args([
            "admin",
            "unlock",
            "--tenant",
            TENANT,
            "--email",
            "x@y.example",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown_admin"));
}

#[tokio::test]
async fn cli_recover_resets_the_account_and_prints_a_new_link() {
    let (app, mut dev, user, _) = enrolled().await;
    let session = login(&app, &mut dev).await.cookie.expect("cookie");
    let out = run_cli(
        &app,
        &["admin", "recover", "--tenant", TENANT, "--email", PAT],
    );
    assert_eq!(out["user_id"], json!(user));
    assert_eq!(out["passkeys_removed"], 1);
    assert_eq!(out["enrolment"], "pending");
    let url = out["enrolment_url"].as_str().expect("url");
    assert!(url.starts_with("http://globex-acme.localhost:8080/enroll/tnt_enr_"));
    assert_eq!(audit_actor(&app, "admin.recover").await, vec!["cli"]);
    // The link went to the outbox too.
    let mailed = std::fs::read_dir(app.env.dir.path().join("outbox"))
        .expect("outbox")
        .filter_map(|e| std::fs::read_to_string(e.expect("entry").path()).ok())
        .any(|m| m.contains(url));
    assert!(mailed, "the new link is in the outbox");

    // Sessions ended, the passkey is gone, enrolment is pending.
    let acct = send(&app, "GET", HOST, "/account", None, Some(&session), None).await;
    assert_eq!(acct.location.as_deref(), Some("/login"));
    let r = login(&app, &mut dev).await;
    assert_eq!(r.body["error"], "unknown_passkey", "{}", r.text);
    let t = app.core.find_tenant(TENANT).await.expect("tenant");
    let admins = app.core.list_admins(&t).await.expect("admins");
    assert_eq!(admins[0].enrolment, "pending");
}

#[tokio::test]
async fn recovery_link_enrols_a_new_passkey_and_old_links_die() {
    let (app, mut old_dev, user, _) = enrolled().await;
    let cookie = login(&app, &mut old_dev).await.cookie.expect("cookie");
    let first = app
        .core
        .cli_recover_admin(TENANT, PAT, &Actor::cli())
        .await
        .expect("recover");
    let second = app
        .core
        .cli_recover_admin(TENANT, PAT, &Actor::cli())
        .await
        .expect("recover again");
    assert_eq!(second.passkeys_removed, 0);
    let t = app.core.find_tenant(TENANT).await.expect("tenant");
    assert!(app
        .core
        .session_from_cookie(&t, &cookie)
        .await
        .expect("lookup")
        .is_none());
    let old_path = url::Url::parse(&first.enrolment_url)
        .expect("url")
        .path()
        .to_string();
    assert_eq!(app.get(HOST, &old_path).await.status, StatusCode::NOT_FOUND);
    let path = url::Url::parse(&second.enrolment_url)
        .expect("url")
        .path()
        .to_string();
    let mut new_dev = Device::new();
    let r = enrol(&app, &mut new_dev, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(login(&app, &mut new_dev).await.status, StatusCode::OK);
    assert_eq!(
        app.core.list_passkeys(&t, &user).await.expect("keys").len(),
        1
    );
    assert_eq!(
        app.core.list_admins(&t).await.expect("a")[0].enrolment,
        "enrolled"
    );
}

#[tokio::test]
async fn api_recover_follows_rule_6_like_unlock() {
    let (app, mut dev, user, membership) = enrolled().await;
    let east = app
        .core
        .create_network(TENANT, "East", &["branch".into()], &Actor::cli())
        .await
        .expect("network")
        .id;
    let owner = app
        .admin(
            TENANT,
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let net_grant = |access| Grant {
        target: Target::Network(east.clone()),
        access,
    };
    let east_full = app
        .admin(
            TENANT,
            "east@globex.example",
            Some(OrgAccess::None),
            vec![net_grant(NetworkAccess::Full)],
        )
        .await;
    let east_ro = app
        .admin(
            TENANT,
            "eastro@globex.example",
            Some(OrgAccess::None),
            vec![net_grant(NetworkAccess::ReadOnly)],
        )
        .await;
    let recover = |key: &str, id: &str| {
        let path = format!("/api/v1/orgs/{TENANT}/admins/{id}/recover");
        let key = key.to_string();
        let app = &app;
        async move { app.api("POST", HOST, &path, Some(&key), None).await }
    };
    // A network-only admin never recovers an org admin...
    let (s, v, _) = recover(&east_full.key, &membership).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "unlock_not_allowed");
    assert_eq!(login(&app, &mut dev).await.status, StatusCode::OK);
    // ...but recovers an admin whose privileges lie on its full networks.
    let (s, v, _) = recover(&east_full.key, &east_ro.id).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Org full recovers anyone: the admin resource, pending, with a new link.
    let (s, v, h) = recover(&owner.key, &membership).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], json!(membership));
    assert_eq!(v["user_id"], json!(user));
    assert_eq!(v["status"], "pending");
    assert_eq!(v["passkeys_removed"], 1);
    assert!(v["enrolment_url"]
        .as_str()
        .unwrap_or_default()
        .contains("/enroll/tnt_enr_"));
    assert!(h.contains_key("etag"));
    assert_eq!(login(&app, &mut dev).await.body["error"], "unknown_passkey");
    let actors = audit_actor(&app, "admin.recover").await;
    assert_eq!(actors.len(), 2);
    assert_eq!(actors[1], owner.user_id);
    // Unknown admins are not found.
    let (s, _, _) = recover(&owner.key, "adm_nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn enrolment_links_of_inactive_users_are_refused() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    let (path, user, _) = admin_with_link(&app, PAT, Some(OrgAccess::Full), vec![]).await;
    // A ceremony started while active...
    let mut dev = Device::new();
    let start = post(&app, HOST, &format!("{path}/start"), ORIGIN, json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let cred = dev.register(ORIGIN, &start.body["options"]);
    sqlx::query("UPDATE users SET status = 'disabled' WHERE id = $1")
        .bind(&user)
        .execute(app.core.store.pool())
        .await
        .expect("disable");
    // ...finishes with nothing stored and no session.
    let r = post(
        &app,
        HOST,
        &format!("{path}/finish"),
        ORIGIN,
        json!({"ceremony": start.body["ceremony"], "credential": cred}),
    )
    .await;
    assert_ne!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.cookie.is_none());
    let t = app.core.find_tenant(TENANT).await.expect("tenant");
    assert!(app
        .core
        .list_passkeys(&t, &user)
        .await
        .expect("keys")
        .is_empty());
    // The page shows the invalid-link status; start refuses.
    let page = app.get(HOST, &path).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.body
            .contains("role=\"status\" aria-live=\"polite\">error: "),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"register\""));
    let r = post(&app, HOST, &format!("{path}/start"), ORIGIN, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"], "link_invalid");
    assert!(audit_count(&app, "enrolment.failure", "invalid_link").await >= 1);
    assert!(audit_count(&app, "enrolment.failure", "not_stored").await >= 1);
    // Re-activated, the same (unconsumed) link works again.
    sqlx::query("UPDATE users SET status = 'active' WHERE id = $1")
        .bind(&user)
        .execute(app.core.store.pool())
        .await
        .expect("enable");
    assert_eq!(app.get(HOST, &path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn failures_older_than_the_window_do_not_count() {
    let (app, mut dev, _, _) = enrolled().await;
    for _ in 0..4 {
        let body = fail_once(&app, &mut dev).await;
        assert_eq!(body["error"], "verification_failed");
    }
    app.clock.advance(15 * 60 + 1);
    for _ in 0..4 {
        fail_once(&app, &mut dev).await;
    }
    // Eight failures, never five inside 15 minutes: not locked.
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(audit_count(&app, "user.locked", "").await, 0);
    // Every failure was audited against the account.
    assert_eq!(
        audit_count(&app, "login.failure", "verification_failed").await,
        8
    );
    let last: (String,) = sqlx::query_as(
        "SELECT after_state FROM audit_log WHERE action = 'login.failure' ORDER BY seq DESC",
    )
    .fetch_one(app.core.store.pool())
    .await
    .expect("last failure");
    assert!(last.0.contains("\"failed_logins\":4"), "{}", last.0);
}

#[tokio::test]
async fn a_lock_expires_and_the_count_starts_over() {
    let (app, mut dev, _, _) = enrolled().await;
    for _ in 0..5 {
        fail_once(&app, &mut dev).await;
    }
    assert_eq!(audit_count(&app, "user.locked", "").await, 1);
    // Still locked a second before the 15 minutes are up; attempts are refused unverified
    // and audited, and do not extend the lock.
    app.clock.advance(15 * 60 - 1);
    let r = login(&app, &mut dev).await;
    assert_eq!(r.body["error"], "locked", "{}", r.text);
    assert!(audit_count(&app, "login.failure", "locked").await >= 1);
    app.clock.advance(2);
    // One failure after the lock ended does not lock again.
    fail_once(&app, &mut dev).await;
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(audit_count(&app, "user.locked", "").await, 1);
}

#[tokio::test]
async fn the_tenant_policy_sets_threshold_and_lock_time() {
    let (app, mut dev, _, _) = enrolled().await;
    let owner = app
        .admin(
            TENANT,
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let (s, v, _) = app
        .api(
            "PATCH",
            HOST,
            &format!("/api/v1/orgs/{TENANT}/settings"),
            Some(&owner.key),
            Some(json!({"login": {"lockout_threshold": 2, "lockout_minutes": 30}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    fail_once(&app, &mut dev).await;
    fail_once(&app, &mut dev).await;
    assert_eq!(login(&app, &mut dev).await.body["error"], "locked");
    app.clock.advance(16 * 60);
    assert_eq!(login(&app, &mut dev).await.body["error"], "locked");
    app.clock.advance(14 * 60 + 1);
    assert_eq!(login(&app, &mut dev).await.status, StatusCode::OK);
}

#[tokio::test]
async fn failures_count_per_account_whatever_the_address() {
    let (app, mut pat_dev, _, _) = enrolled().await;
    let (path, _, _) =
        admin_with_link(&app, "sam@globex.example", Some(OrgAccess::Full), vec![]).await;
    let mut sam_dev = Device::new();
    assert_eq!(
        enrol(&app, &mut sam_dev, &path).await.status,
        StatusCode::OK
    );
    // Five addresses, one failure each (far below the per-address limit): Pat is locked.
    for i in 1..=5 {
        let body = fail_from(&app, &mut pat_dev, &format!("198.51.100.{i}")).await;
        assert_eq!(body["error"], "verification_failed", "{body}");
    }
    let body = fail_from(&app, &mut pat_dev, "198.51.100.9").await;
    assert_eq!(body["error"], "locked", "{body}");
    let r = login(&app, &mut pat_dev).await;
    assert_eq!(r.body["error"], "locked");
    // Another account of the tenant is not affected.
    let r = login(&app, &mut sam_dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The failures live in the database, keyed by tenant and account.
    // A malformed request counts against the address only, and is audited.
    let r = send(
        &app,
        "POST",
        HOST,
        "/login/finish",
        Some(ORIGIN),
        None,
        Some(("application/json", "{not json".into())),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        audit_count(&app, "request.malformed", "invalid_json").await,
        1
    );
    let (n,): (i64,) = sqlx::query_as("SELECT failed_logins FROM users WHERE email = $1")
        .bind(PAT)
        .fetch_one(app.core.store.pool())
        .await
        .expect("count");
    assert_eq!(n, 5);
}

#[tokio::test]
async fn account_page_shows_the_msp_banner_for_a_switched_session() {
    let app = test_app().await;
    let acme = app
        .core
        .create_msp(
            NewTenant {
                name: "acme",
                display_name: Some("Acme & <Sons>"),
                admin_email: Some("boss@acme.example"),
            },
            &Actor::cli(),
        )
        .await
        .expect("msp");
    app.customer("globex", "acme", "Globex").await;
    let boss = acme.admin.expect("msp admin").user_id;
    let t = app.core.find_tenant(TENANT).await.expect("tenant");
    let (_, secret) = app
        .core
        .create_session(
            &t,
            "msp_ident",
            &["webauthn"],
            Some(json!({"iss": app.core.issuer("acme"), "sub": boss})),
        )
        .await
        .expect("session");
    let page = send(&app, "GET", HOST, "/account", None, Some(&secret), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text
            .contains("MSP user boss@acme.example from MSP Acme &amp; &lt;Sons&gt;"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("<Sons>"));
    // The page a switch lands on, the tenant's home, shows it too.
    let home = send(&app, "GET", HOST, "/", None, Some(&secret), None).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    assert!(
        home.text.contains("id=\"msp-banner\"") && home.text.contains("MSP user boss@acme.example"),
        "{}",
        home.text
    );

    // An ordinary session shows no banner.
    let (_, own, _) = admin_with_link(&app, PAT, Some(OrgAccess::Full), vec![]).await;
    let (_, secret) = app
        .core
        .create_session(&t, &own, &["webauthn"], None)
        .await
        .expect("session");
    let page = send(&app, "GET", HOST, "/account", None, Some(&secret), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("msp-banner"));
}
