//! Passkey enrolment, usernameless login, account and lockout, driven through
//! `router(state)` with webauthn-authenticator-rs's software passkey.
//!
//! The soft passkey keeps no resident keys and returns no user handle, so the test plays
//! the browser's part of a discoverable credential: it asks for a non-resident key, lists
//! the credential it holds in `allowCredentials`, and adds the user handle that the
//! authenticator would have stored. Nothing the server verifies is changed. It calls the
//! backend directly because the high-level client refuses `http://` origins other than
//! bare `localhost`, which browsers treat as secure.

use crate::support::{test_app, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use tenantry::core::admins::AdminSpec;
use tenantry::core::audit::Actor;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::AuthenticatorBackend;

pub(crate) const TENANT: &str = "globex-acme";
pub(crate) const HOST: &str = "globex-acme.localhost:8080";
pub(crate) const ORIGIN: &str = "http://globex-acme.localhost:8080";
pub(crate) const B64: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) struct Device {
    pk: SoftPasskey,
    /// (credential id, user handle), base64url.
    pub(crate) creds: Vec<(String, String)>,
}

impl Device {
    pub(crate) fn new() -> Self {
        Device {
            pk: SoftPasskey::new(true),
            creds: vec![],
        }
    }

    pub(crate) fn register(&mut self, origin: &str, options: &Value) -> Value {
        let mut options = options.clone();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(false);
        let handle = options["publicKey"]["user"]["id"]
            .as_str()
            .expect("user id")
            .to_string();
        let ccr: CreationChallengeResponse = serde_json::from_value(options).expect("options");
        let cred = AuthenticatorBackend::perform_register(
            &mut self.pk,
            Url::parse(origin).expect("origin"),
            ccr.public_key,
            60_000,
        )
        .expect("soft passkey registers");
        let cred = serde_json::to_value(&cred).expect("credential json");
        self.creds
            .push((cred["id"].as_str().expect("id").to_string(), handle));
        cred
    }

    pub(crate) fn assert(&mut self, origin: &str, options: &Value) -> Value {
        let mut options = options.clone();
        options["publicKey"]["allowCredentials"] = self
            .creds
            .iter()
            .map(|(id, _)| json!({"type": "public-key", "id": id}))
            .collect();
        let rcr: RequestChallengeResponse = serde_json::from_value(options).expect("options");
        let cred = AuthenticatorBackend::perform_auth(
            &mut self.pk,
            Url::parse(origin).expect("origin"),
            rcr.public_key,
            60_000,
        )
        .expect("soft passkey asserts");
        let mut cred = serde_json::to_value(&cred).expect("assertion json");
        let id = cred["id"].as_str().unwrap_or_default().to_string();
        if let Some((_, handle)) = self.creds.iter().find(|(c, _)| *c == id) {
            cred["response"]["userHandle"] = json!(handle);
        }
        cred
    }
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) text: String,
    pub(crate) cookie: Option<String>,
    pub(crate) location: Option<String>,
}

pub(crate) async fn send(
    app: &TestApp,
    method: &str,
    host: &str,
    path: &str,
    origin: Option<&str>,
    cookie: Option<&str>,
    body: Option<(&str, String)>,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", format!("tenantry_session={c}"));
    }
    let req = match body {
        Some((ct, b)) => req.header("content-type", ct).body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let r = app.request(req).await;
    let cookie = r
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("tenantry_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_string());
    Reply {
        status: r.status,
        body: serde_json::from_str(&r.body).unwrap_or(Value::Null),
        text: r.body,
        cookie,
        location: r
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

pub(crate) async fn post(
    app: &TestApp,
    host: &str,
    path: &str,
    origin: &str,
    body: Value,
) -> Reply {
    send(
        app,
        "POST",
        host,
        path,
        Some(origin),
        None,
        Some(("application/json", body.to_string())),
    )
    .await
}

/// A customer tenant with a new admin; returns the enrolment path.
pub(crate) async fn world() -> (TestApp, String) {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    let path = new_admin(&app, TENANT, "pat@globex.example").await;
    (app, path)
}

pub(crate) async fn new_admin(app: &TestApp, tenant: &str, email: &str) -> String {
    let spec =
        AdminSpec::new(email, None, Some(tenantry::authz::OrgAccess::Full), vec![]).expect("spec");
    let created = app
        .core
        .add_admin(tenant, spec, &Actor::cli())
        .await
        .expect("admin");
    let url = url::Url::parse(&created.enrolment_url).expect("url");
    url.path().to_string()
}

pub(crate) async fn enrol(app: &TestApp, dev: &mut Device, path: &str) -> Reply {
    let start = post(app, HOST, &format!("{path}/start"), ORIGIN, json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let cred = dev.register(ORIGIN, &start.body["options"]);
    post(
        app,
        HOST,
        &format!("{path}/finish"),
        ORIGIN,
        json!({"ceremony": start.body["ceremony"], "credential": cred, "name": "Laptop"}),
    )
    .await
}

/// Start a login at `host` and let the device answer: (ceremony, assertion).
pub(crate) async fn assertion(app: &TestApp, dev: &mut Device, host: &str) -> (Value, Value) {
    let origin = format!("http://{host}");
    let start = post(app, host, "/login/start", &origin, json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let cred = dev.assert(&origin, &start.body["options"]);
    (start.body["ceremony"].clone(), cred)
}

pub(crate) async fn finish(app: &TestApp, host: &str, ceremony: &Value, cred: &Value) -> Reply {
    post(
        app,
        host,
        "/login/finish",
        &format!("http://{host}"),
        json!({"ceremony": ceremony, "credential": cred}),
    )
    .await
}

pub(crate) async fn login(app: &TestApp, dev: &mut Device) -> Reply {
    let (c, a) = assertion(app, dev, HOST).await;
    finish(app, HOST, &c, &a).await
}

pub(crate) async fn audit_count(app: &TestApp, action: &str, detail: &str) -> i64 {
    let row: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND COALESCE(after_state, '') LIKE $2",
    )
    .bind(action)
    .bind(format!("%{detail}%"))
    .fetch_one(app.core.store.pool())
    .await
    .expect("audit count");
    row.0
}

#[tokio::test]
async fn enrolment_link_registers_a_passkey_and_is_consumed() {
    let (app, path) = world().await;
    // A GET shows the page and never consumes the link (mail scanners open links).
    for _ in 0..2 {
        let r = app.get(HOST, &path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("id=\"register\""), "{}", r.body);
        assert!(r.body.contains("id=\"status\" role=\"status\""));
        assert!(r.body.contains("Globex"));
        assert!(!r.body.contains("<script>"), "no inline script");
        assert_eq!(r.headers["referrer-policy"], "no-referrer");
        assert!(r.headers["content-security-policy"]
            .to_str()
            .unwrap_or_default()
            .starts_with("default-src 'self'"));
    }
    let js = app.get(HOST, "/static/passkey.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("navigator.credentials.create"));

    let mut dev = Device::new();
    let done = enrol(&app, &mut dev, &path).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["status"], "registered");
    let cookie = done.cookie.expect("a session starts");

    let t = app.core.find_tenant(TENANT).await.expect("tenant");
    let admins = app.core.list_admins(&t).await.expect("admins");
    assert_eq!(admins[0].enrolment, "enrolled");
    assert_eq!(audit_count(&app, "passkey.register", "Laptop").await, 1);

    // The link stops working.
    let r = app.get(HOST, &path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body
            .contains("role=\"status\" aria-live=\"polite\">error: "),
        "{}",
        r.body
    );
    let again = post(&app, HOST, &format!("{path}/start"), ORIGIN, json!({})).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // The account page lists the named passkey; the only one cannot be removed.
    let acct = send(&app, "GET", HOST, "/account", None, Some(&cookie), None).await;
    assert_eq!(acct.status, StatusCode::OK);
    assert!(acct.text.contains("Laptop"), "{}", acct.text);
    let users_key = app
        .core
        .list_passkeys(&t, &admins[0].user_id)
        .await
        .expect("keys");
    assert_eq!(users_key.len(), 1);
    let csrf = csrf_of(&acct.text);
    let remove_path = format!("/account/passkeys/{}/remove", users_key[0].id);
    let form = |c: &str| Some(("application/x-www-form-urlencoded", format!("csrf={c}")));
    let r = send(
        &app,
        "POST",
        HOST,
        &remove_path,
        Some(ORIGIN),
        Some(&cookie),
        form(&csrf),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("error: "));
    let r = send(
        &app,
        "POST",
        HOST,
        &remove_path,
        Some(ORIGIN),
        Some(&cookie),
        form("nope"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Sign out ends the session and clears the cookie.
    let r = send(
        &app,
        "POST",
        HOST,
        "/logout",
        Some(ORIGIN),
        Some(&cookie),
        form(&csrf),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.cookie.as_deref(), Some(""));
    let acct = send(&app, "GET", HOST, "/account", None, Some(&cookie), None).await;
    assert_eq!(acct.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn usernameless_login_and_cross_tenant_refusal() {
    let (app, path) = world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);

    let page = app.get(HOST, "/login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"login\""));
    assert!(page.body.contains("Sign in to Globex"));

    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "signed in");
    assert_eq!(r.body["next"], "/account");
    let cookie = r.cookie.expect("session cookie");
    let acct = send(&app, "GET", HOST, "/account", None, Some(&cookie), None).await;
    assert!(acct
        .text
        .contains("role=\"status\" aria-live=\"polite\">signed in"));

    // The same passkey at another tenant's host is refused.
    app.customer("initech", "acme", "Initech").await;
    let other = "initech-acme.localhost:8080";
    let (c, a) = assertion(&app, &mut dev, other).await;
    let r = finish(&app, other, &c, &a).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(r.cookie.is_none());
    assert_eq!(
        audit_count(&app, "login.failure", "unknown_credential").await,
        1
    );
}

#[tokio::test]
async fn expired_enrolment_link_is_refused() {
    let (app, path) = world().await;
    app.clock.advance(72 * 3600 + 1);
    assert_eq!(app.get(HOST, &path).await.status, StatusCode::NOT_FOUND);
    let r = post(&app, HOST, &format!("{path}/start"), ORIGIN, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(audit_count(&app, "enrolment.failure", "invalid_link").await >= 1);

    // A ceremony started in time but finished after the link expired stores nothing.
    let (app, path) = world().await;
    let mut dev = Device::new();
    let start = post(&app, HOST, &format!("{path}/start"), ORIGIN, json!({})).await;
    let cred = dev.register(ORIGIN, &start.body["options"]);
    app.clock.advance(72 * 3600 + 1);
    let r = post(
        &app,
        HOST,
        &format!("{path}/finish"),
        ORIGIN,
        json!({"ceremony": start.body["ceremony"], "credential": cred}),
    )
    .await;
    assert_ne!(r.status, StatusCode::OK);
    assert!(r.cookie.is_none());
}

#[tokio::test]
async fn ceremony_state_is_single_use_and_expires() {
    let (app, path) = world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    let (c, a) = assertion(&app, &mut dev, HOST).await;
    assert_eq!(finish(&app, HOST, &c, &a).await.status, StatusCode::OK);
    let r = finish(&app, HOST, &c, &a).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "ceremony_invalid");

    let (c, a) = assertion(&app, &mut dev, HOST).await;
    app.clock.advance(301);
    let r = finish(&app, HOST, &c, &a).await;
    assert_eq!(r.body["error"], "ceremony_invalid");

    // A registration ceremony is bound to its link too.
    let other = new_admin(&app, TENANT, "sam@globex.example").await;
    let start = post(&app, HOST, &format!("{other}/start"), ORIGIN, json!({})).await;
    let cred = Device::new().register(ORIGIN, &start.body["options"]);
    let body = json!({"ceremony": start.body["ceremony"], "credential": cred});
    let r = post(&app, HOST, &format!("{other}/finish"), ORIGIN, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = post(&app, HOST, &format!("{other}/finish"), ORIGIN, body).await;
    assert_eq!(r.body["error"], "ceremony_invalid");
}

#[tokio::test]
async fn counter_regression_is_refused_and_audited() {
    let (app, path) = world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    // Two ceremonies; the later assertion (higher counter) finishes first, then the
    // older one is replayed into its own, still open, ceremony.
    let (old_c, old_a) = assertion(&app, &mut dev, HOST).await;
    let (new_c, new_a) = assertion(&app, &mut dev, HOST).await;
    assert_eq!(
        finish(&app, HOST, &new_c, &new_a).await.status,
        StatusCode::OK
    );
    let r = finish(&app, HOST, &old_c, &old_a).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["error"], "counter_regression");
    assert!(r.cookie.is_none());
    assert_eq!(
        audit_count(&app, "login.failure", "counter_regression").await,
        1
    );
}

#[tokio::test]
async fn origin_must_match_exactly() {
    let (app, path) = world().await;
    for origin in [
        Some("http://initech-acme.localhost:8080"),
        Some("http://globex-acme.localhost:8081"),
        Some("https://globex-acme.localhost:8080"),
        None,
    ] {
        for p in ["/login/start".to_string(), format!("{path}/start")] {
            let r = send(
                &app,
                "POST",
                HOST,
                &p,
                origin,
                None,
                Some(("application/json", "{}".into())),
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin:?} {p}");
            assert_eq!(r.body["error"], "origin_mismatch");
        }
    }
    assert!(audit_count(&app, "request.origin_mismatch", "").await >= 8);
    // A cross-site form (not JSON) is refused even with the right origin.
    let r = send(
        &app,
        "POST",
        HOST,
        "/login/start",
        Some(ORIGIN),
        None,
        Some(("application/x-www-form-urlencoded", "a=b".into())),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn failed_assertions_lock_the_account() {
    let (app, path) = world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    let tamper = |a: &Value| {
        let mut a = a.clone();
        let mut sig = B64
            .decode(a["response"]["signature"].as_str().expect("signature"))
            .expect("b64");
        let last = sig.len() - 1;
        sig[last] ^= 1;
        a["response"]["signature"] = json!(B64.encode(sig));
        a
    };
    // A failure, then a success, resets the count.
    let (c, a) = assertion(&app, &mut dev, HOST).await;
    assert_eq!(
        finish(&app, HOST, &c, &tamper(&a)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(&app, &mut dev).await.status, StatusCode::OK);
    // Default policy: 5 failures lock for 15 minutes.
    for _ in 0..5 {
        let (c, a) = assertion(&app, &mut dev, HOST).await;
        let r = finish(&app, HOST, &c, &tamper(&a)).await;
        assert_eq!(r.body["error"], "verification_failed", "{}", r.text);
    }
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "locked");
    assert!(r.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("locked"));
    assert_eq!(audit_count(&app, "user.locked", "").await, 1);
    app.clock.advance(15 * 60 + 1);
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn login_resumes_a_pending_authorization_request() {
    let (app, path) = world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    let t = app.core.find_tenant(TENANT).await.expect("tenant");
    let client: tenantry::core::clients::NewClient = serde_json::from_value(json!({
        "name": "portal",
        "public": true,
        "redirect_uris": ["https://app.example.com/cb"],
        "grant_types": ["authorization_code"],
        "scopes": ["openid"],
    }))
    .expect("client");
    let (client, _) = app
        .core
        .create_client(&t, client, &Actor::cli(), None)
        .await
        .expect("create client");
    let challenge = B64.encode(<sha2::Sha256 as sha2::Digest>::digest(
        b"a verifier that is long enough to be fine",
    ));
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb\
         &scope=openid&state=s1&code_challenge={challenge}&code_challenge_method=S256",
        client.id
    );
    let r = app.get(HOST, &authorize).await;
    let loc = r
        .headers
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let pending = loc
        .strip_prefix("/login?pending=")
        .expect("sent to /login")
        .to_string();
    let page = app.get(HOST, &loc).await;
    assert!(
        page.body.contains(&format!("data-pending=\"{pending}\"")),
        "{}",
        page.body
    );

    let (c, a) = assertion(&app, &mut dev, HOST).await;
    let r = post(
        &app,
        HOST,
        "/login/finish",
        ORIGIN,
        json!({"ceremony": c, "credential": a, "pending": pending}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let next = r.body["next"].as_str().expect("next").to_string();
    assert_eq!(next, format!("/oauth2/authorize?pending={pending}"));
    let cookie = r.cookie.expect("cookie");
    let resumed = send(&app, "GET", HOST, &next, None, Some(&cookie), None).await;
    let to = resumed.location.unwrap_or_default();
    assert!(to.starts_with("https://app.example.com/cb?"), "{to}");
    assert!(to.contains("code="), "{to}");
}

pub(crate) fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("csrf token")
        .to_string()
}
