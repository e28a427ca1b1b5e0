//! The OIDC hot-path caches (security.md "Several processes on one PostgreSQL",
//! decisions.md "OIDC"): verified access tokens, client records and tenants are cached per
//! process and checked against the tenant's version. A revocation is seen at once by the
//! process that made it and after the 5 s re-read by another process (a second `Core` on
//! the same database); a token never leaks into another tenant through the cache; a
//! deleted client's secret stops working.

use crate::support::{test_app, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tenantry::app::{self, AppState};
use tenantry::authz::OrgAccess;
use tenantry::clock::SharedClock;
use tenantry::config::PublicUrl;
use tenantry::core::audit::Actor;
use tenantry::core::clients::NewClient;
use tenantry::core::tokens::{Subject, UserGrant};
use tower::ServiceExt;

const HOST: &str = "globex-acme.localhost:8080";
const OTHER_HOST: &str = "initech-acme.localhost:8080";

fn new_client(name: &str, grants: &[&str]) -> NewClient {
    serde_json::from_value(json!({
        "name": name,
        "redirect_uris": ["https://app.example.com/cb"],
        "grant_types": grants,
        "scopes": ["openid", "offline_access", "privileges"],
    }))
    .expect("new client")
}

/// POST a form through `state`'s router, with HTTP Basic client authentication.
async fn post(
    state: &AppState,
    host: &str,
    path: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.0, client.1));
    let req = Request::post(path)
        .header("host", host)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"))
        .body(Body::from(body))
        .expect("request");
    let resp = app::router(state.clone())
        .oneshot(req)
        .await
        .expect("router answers");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

struct World {
    app: TestApp,
    client_id: String,
    secret: String,
}

impl World {
    fn client(&self) -> (&str, &str) {
        (&self.client_id, &self.secret)
    }

    async fn cc_token(&self, state: &AppState, resource: Option<&str>) -> String {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("scope", "privileges"),
        ];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        let (s, v) = post(state, HOST, "/oauth2/token", self.client(), &form).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["access_token"]
            .as_str()
            .expect("access token")
            .to_string()
    }

    async fn active(&self, state: &AppState, token: &str) -> bool {
        let (s, v) = post(
            state,
            HOST,
            "/oauth2/introspect",
            self.client(),
            &[("token", token)],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["active"].as_bool().expect("active is a boolean")
    }

    /// A second process on the same database and clock.
    async fn second_process(&self) -> AppState {
        let clock: SharedClock = Arc::new(self.app.clock.clone());
        let public = PublicUrl::parse("http://localhost:8080").expect("public url");
        let core = app::open(&self.app.env.config(), public, clock)
            .await
            .expect("open a second core");
        AppState::new(core)
    }
}

async fn world() -> World {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    let t = app.core.find_tenant("globex-acme").await.expect("tenant");
    let (client, secret) = app
        .core
        .create_client(
            &t,
            new_client(
                "svc",
                &["client_credentials", "authorization_code", "refresh_token"],
            ),
            &Actor::cli(),
            None,
        )
        .await
        .expect("client");
    World {
        app,
        client_id: client.id,
        secret: secret.expect("secret"),
    }
}

#[tokio::test]
async fn a_revoked_access_token_is_inactive_right_after_revocation() {
    let w = world().await;
    let state = w.app.state.clone();
    let at = w.cc_token(&state, None).await;
    let keep = w.cc_token(&state, None).await;
    // Verified once: from now on introspection answers from the cache.
    assert!(w.active(&state, &at).await);
    assert!(w.active(&state, &at).await);
    assert!(w.active(&state, &keep).await);
    let (s, _) = post(
        &state,
        HOST,
        "/oauth2/revoke",
        w.client(),
        &[("token", &at)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!w.active(&state, &at).await, "revoked: inactive at once");
    assert!(w.active(&state, &keep).await, "other tokens stay active");
    // Revoking again changes nothing and still answers 200.
    let (s, _) = post(
        &state,
        HOST,
        "/oauth2/revoke",
        w.client(),
        &[("token", &at)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!w.active(&state, &at).await);
    // Expiry still applies to cached tokens.
    w.app.clock.advance(601);
    assert!(!w.active(&state, &keep).await, "expired: inactive");
}

#[tokio::test]
async fn revoking_a_refresh_token_or_a_session_revokes_cached_access_tokens() {
    let w = world().await;
    let state = w.app.state.clone();
    let admin = w
        .app
        .admin(
            "globex-acme",
            "pat@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    let client = w
        .app
        .core
        .client(&t, &w.client_id)
        .await
        .expect("read")
        .expect("client");
    let issue = |session_id: Option<String>, family: &str| {
        let grant = UserGrant {
            subject: Subject::local(&t, &admin.user_id),
            session_id,
            scope: vec!["openid".into(), "offline_access".into()],
            nonce: None,
            auth_time: crate::support::T0,
            amr: vec!["webauthn".into()],
            act: None,
            resource: None,
        };
        let (core, t, client) = (w.app.core.clone(), t.clone(), client.clone());
        let family = (family.to_string(), crate::support::T0 + 3600);
        async move {
            core.issue_user_tokens(&t, &client, &grant, Some(family))
                .await
                .expect("issue")
        }
    };
    // A refresh-token family: revoking its refresh token revokes its access tokens.
    let first = issue(None, "fam_cache_test_one").await;
    assert!(w.active(&state, &first.access_token).await);
    let rt = first.refresh_token.expect("refresh token");
    let (s, _) = post(
        &state,
        HOST,
        "/oauth2/revoke",
        w.client(),
        &[("token", &rt)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!w.active(&state, &first.access_token).await);
    // Ending a session (a revocation cascade) revokes the session's access tokens.
    let (session, _) = w
        .app
        .core
        .create_session(&t, &admin.user_id, &["webauthn"], None)
        .await
        .expect("session");
    let second = issue(Some(session.id.clone()), "fam_cache_test_two").await;
    assert!(w.active(&state, &second.access_token).await);
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    w.app.core.end_session(&t, &session.id).await.expect("end");
    assert!(!w.active(&state, &second.access_token).await);
}

#[tokio::test]
async fn another_process_sees_a_revocation_after_the_version_re_read() {
    let w = world().await;
    let here = w.app.state.clone();
    let there = w.second_process().await;
    let at = w.cc_token(&here, None).await;
    assert!(w.active(&there, &at).await, "the other process caches it");
    assert!(w.active(&there, &at).await);
    let (s, _) = post(&here, HOST, "/oauth2/revoke", w.client(), &[("token", &at)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!w.active(&here, &at).await, "this process: at once");
    // The other process may answer from its cache until it re-reads the versions (5 s).
    w.app.clock.advance(5);
    assert!(
        !w.active(&there, &at).await,
        "the other process: after the re-read"
    );
}

#[tokio::test]
async fn a_deleted_clients_secret_stops_working_in_every_process() {
    let w = world().await;
    let here = w.app.state.clone();
    let there = w.second_process().await;
    // Both processes have the client cached.
    w.cc_token(&here, None).await;
    w.cc_token(&there, None).await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    w.app
        .core
        .delete_client(&t, &w.client_id, &Actor::cli(), None)
        .await
        .expect("delete");
    let form = [("grant_type", "client_credentials")];
    let (s, v) = post(&here, HOST, "/oauth2/token", w.client(), &form).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "this process: at once"
    );
    w.app.clock.advance(5);
    let (s, v) = post(&there, HOST, "/oauth2/token", w.client(), &form).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "the other process: after the re-read"
    );
    // A wrong secret for a live client never works, cached or not.
    let (other, secret) = w
        .app
        .core
        .create_client(
            &t,
            new_client("other", &["client_credentials"]),
            &Actor::cli(),
            None,
        )
        .await
        .expect("client");
    let secret = secret.expect("secret");
    let (s, _) = post(&here, HOST, "/oauth2/token", (&other.id, &secret), &form).await;
    assert_eq!(s, StatusCode::OK);
    let wrong = format!("{secret}x");
    let (s, _) = post(&here, HOST, "/oauth2/token", (&other.id, &wrong), &form).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_cached_token_never_answers_for_another_tenant() {
    let w = world().await;
    let state = w.app.state.clone();
    w.app.customer("initech", "acme", "Initech").await;
    let other_t = w
        .app
        .core
        .find_tenant("initech-acme")
        .await
        .expect("tenant");
    let (other, other_secret) = w
        .app
        .core
        .create_client(
            &other_t,
            new_client("theirs", &["client_credentials"]),
            &Actor::cli(),
            None,
        )
        .await
        .expect("client");
    let other_secret = other_secret.expect("secret");
    // A token of globex whose audience names initech's client, cached at globex.
    let at = w.cc_token(&state, Some(&other.id)).await;
    assert!(w.active(&state, &at).await);
    // Give both tenants the same version, so only the tenant in the key tells them apart.
    let (mine, theirs) = (
        w.app.core.find_tenant("globex-acme").await.expect("t"),
        w.app.core.find_tenant("initech-acme").await.expect("t"),
    );
    let (low, steps) = if mine.version < theirs.version {
        (&mine.id, theirs.version - mine.version)
    } else {
        (&theirs.id, mine.version - theirs.version)
    };
    {
        let mut conn = w.app.core.store.conn().await.expect("conn");
        for _ in 0..steps {
            tenantry::store::tenants::bump_version(&mut conn, low)
                .await
                .expect("bump");
        }
    }
    w.app.core.tenants.invalidate();
    assert!(w.active(&state, &at).await, "re-verified at globex");
    let a = w.app.core.find_tenant("globex-acme").await.expect("t");
    let b = w.app.core.find_tenant("initech-acme").await.expect("t");
    assert_eq!(a.version, b.version);
    let (s, v) = post(
        &state,
        OTHER_HOST,
        "/oauth2/introspect",
        (&other.id, &other_secret),
        &[("token", &at)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["active"], false, "a token of another tenant: {v}");
}
