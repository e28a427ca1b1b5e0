//! Inbound OIDC federation end to end, over loopback on a real server: tenant `upco` is the
//! upstream OpenID provider (a real tenantry tenant), tenant `downco` signs its admins in
//! through it. Just-in-time creation, role mappings from the upstream's `org_access` claim
//! re-evaluated at every sign-in, `amr: ["fed"]`, a pending authorization request resumed;
//! and the refusals of bad, replayed and foreign-browser states. Forged ID tokens and
//! e-mail collisions: federation_forged.rs.

use crate::support::{TestEnv, T0};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tenantry::app::{self, AppState};
use tenantry::authz::OrgAccess;
use tenantry::clock::{FixedClock, SharedClock};
use tenantry::config::PublicUrl;
use tenantry::core::audit::Actor;
use tenantry::core::federation::{Kind, NewConnection};
use tenantry::core::tenants::NewTenant;
use tenantry::core::Core;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const APP_CB: &str = "https://app.example.com/cb";

pub struct World {
    _env: TestEnv,
    pub core: Core,
    pub port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
    /// The upstream user (an admin of upco) and an upco session of theirs.
    pub up_membership: String,
    pub up_session: String,
    /// An org-full admin's API key at upco and at downco.
    pub up_key: String,
    pub down_key: String,
    /// A client of downco (an app that trusts downco's tokens).
    app_client: (String, String),
}

pub fn origin(tenant: &str, port: u16) -> String {
    format!("http://{tenant}.localhost:{port}")
}

async fn admin_key(
    core: &Core,
    tenant: &str,
    email: &str,
    org: OrgAccess,
) -> (String, String, String) {
    let spec =
        tenantry::core::admins::AdminSpec::new(email, None, Some(org), vec![]).expect("spec");
    let created = core
        .add_admin(tenant, spec, &Actor::cli())
        .await
        .expect("admin");
    let t = core.find_tenant(tenant).await.expect("tenant");
    let key = core
        .create_api_key(&t, &created.user_id, "test", &Actor::cli())
        .await
        .expect("key")
        .key
        .expect("shown once");
    (created.user_id, created.membership_id, key)
}

async fn client(core: &Core, tenant: &str, redirect: &str) -> (String, String) {
    let t = core.find_tenant(tenant).await.expect("tenant");
    let new = serde_json::from_value(json!({
        "name": "app",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code"],
        "scopes": ["openid", "email", "profile", "privileges"],
    }))
    .expect("new client");
    let (c, secret) = core
        .create_client(&t, new, &Actor::cli(), None)
        .await
        .expect("client");
    (c.id, secret.expect("secret"))
}

pub async fn world() -> World {
    world_at(T0).await
}

/// The world on a clock fixed at `now`.
pub async fn world_at(now: i64) -> World {
    let env = TestEnv::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let clock: SharedClock = Arc::new(FixedClock::new(now));
    let public = PublicUrl::parse(&format!("http://localhost:{port}")).expect("public url");
    let core = app::open(&env.config(), public, clock)
        .await
        .expect("open")
        .with_insecure_fetch(true);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app::serve(listener, AppState::new(core.clone()), async {
        let _ = stopped.await;
    }));
    for (name, owner) in [
        ("upco", "owner@upco.example"),
        ("downco", "owner@downco.example"),
    ] {
        core.create_msp(
            NewTenant {
                name,
                display_name: None,
                admin_email: Some(owner),
            },
            &Actor::cli(),
        )
        .await
        .expect("tenant");
    }
    // Upstream: pat (read-only for now), a client for downco's callback.
    let (pat, up_membership, _) =
        admin_key(&core, "upco", "pat@corp.example", OrgAccess::ReadOnly).await;
    let (_, _, up_key) = admin_key(&core, "upco", "boss@upco.example", OrgAccess::Full).await;
    let (up_id, up_secret) = client(
        &core,
        "upco",
        &format!("{}/federation/corp/callback", origin("downco", port)),
    )
    .await;
    let up = core.find_tenant("upco").await.expect("upco");
    let (_, up_session) = core
        .create_session(&up, &pat, &["webauthn"], None)
        .await
        .expect("session");
    // Downstream: the connection, mappings from the upstream's org_access, an app.
    let down = core.find_tenant("downco").await.expect("downco");
    core.create_connection(
        &down,
        NewConnection {
            name: "corp".into(),
            display_name: Some("Corp SSO".into()),
            kind: Kind::Oidc,
            issuer: Some(origin("upco", port)),
            client_id: Some(up_id),
            client_secret: Some(up_secret),
            scopes: vec!["email".into(), "profile".into(), "privileges".into()],
            metadata: None,
            metadata_url: None,
            claim: Some("org_access".into()),
            domains: vec!["corp.example".into()],
            allow_linking: false,
        },
        &Actor::cli(),
        None,
    )
    .await
    .expect("connection");
    let (_, _, down_key) = admin_key(&core, "downco", "boss@downco.example", OrgAccess::Full).await;
    let app_client = client(&core, "downco", APP_CB).await;
    let w = World {
        _env: env,
        core,
        port,
        _stop: stop,
        up_membership,
        up_session,
        up_key,
        down_key,
        app_client,
    };
    for (name, access) in [("fed-readers", "read-only"), ("fed-owners", "full")] {
        let (s, v) = w
            .api(
                "downco",
                "POST",
                "/api/v1/orgs/downco/role-mappings",
                &w.down_key,
                json!({
                    "name": name,
                    "bundle": {"org_access": access},
                    "selectors": [{"kind": "claim", "claim": "org_access", "value": access}],
                }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    w
}

/// A browser: no redirects followed, cookies kept per host, every `*.localhost` on loopback.
pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: HashMap<String, HashMap<String, String>>,
}

pub struct Answer {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
}

impl Browser {
    pub fn new(port: u16) -> Browser {
        let lo = SocketAddr::from(([127, 0, 0, 1], port));
        let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        for name in ["upco", "downco", "mock", "other"] {
            b = b.resolve(&format!("{name}.localhost"), lo);
        }
        Browser {
            http: b.build().expect("client"),
            cookies: HashMap::new(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Answer {
        let req = self.http.get(url);
        self.send(url, req).await
    }

    /// A form POST, as a cross-site IdP's page makes it (no cookies of that site).
    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        let req = self.http.post(url).form(form);
        self.send(url, req).await
    }

    async fn send(&mut self, url: &str, mut req: reqwest::RequestBuilder) -> Answer {
        let u = url::Url::parse(url).expect("absolute url");
        let host = u.host_str().unwrap_or_default().to_string();
        let jar = self.cookies.entry(host.clone()).or_default();
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        let resp = req.send().await.expect("request");
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap_or_default();
            if let Some((k, v)) = c.split(';').next().and_then(|kv| kv.split_once('=')) {
                jar.insert(k.to_string(), v.to_string());
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let location = if location.starts_with('/') {
            format!("{}://{}{location}", u.scheme(), u.authority())
        } else {
            location
        };
        Answer {
            status,
            location,
            body: resp.text().await.unwrap_or_default(),
        }
    }
}

pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(
        &B64.decode(jwt.split('.').nth(1).expect("payload"))
            .expect("b64"),
    )
    .expect("json")
}

pub fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl World {
    pub async fn api(
        &self,
        tenant: &str,
        method: &str,
        path: &str,
        key: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let r = reqwest::Client::builder()
            .resolve(
                &format!("{tenant}.localhost"),
                SocketAddr::from(([127, 0, 0, 1], self.port)),
            )
            .build()
            .expect("client")
            .request(
                method.parse().expect("method"),
                format!("{}{path}", origin(tenant, self.port)),
            )
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("api call");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub fn down(&self, path: &str) -> String {
        format!("{}{path}", origin("downco", self.port))
    }

    /// The app asks downco to sign the user in; the browser has no downco session, so it
    /// lands on the login page with a pending request. Returns (pending, code verifier).
    async fn app_starts(&self, b: &mut Browser) -> (String, String) {
        let verifier = "v".repeat(50);
        let challenge = B64.encode(sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(verifier.as_bytes()),
        ));
        let url = self.down(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
            self.app_client.0,
            urlenc(APP_CB),
            urlenc("openid email privileges")
        ));
        let a = b.get(&url).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        let pending = query(&a.location).get("pending").cloned().expect("pending");
        (pending, verifier)
    }

    /// The whole federated sign-in through upco; returns downco's callback answer.
    pub async fn federate(&self, b: &mut Browser, pending: Option<&str>) -> Answer {
        let login = b.get(&self.down("/login")).await;
        assert!(
            login.body.contains("id=\"federation-email\""),
            "{}",
            login.body
        );
        assert!(
            login.body.contains("id=\"login\""),
            "the passkey button stays"
        );
        let mut start = "/federation/start?email=pat%40corp.example".to_string();
        if let Some(p) = pending {
            start.push_str(&format!("&pending={p}"));
        }
        let a = b.get(&self.down(&start)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        assert!(
            a.location.starts_with(&origin("upco", self.port)),
            "{}",
            a.location
        );
        let q = query(&a.location);
        assert_eq!(
            q.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        assert!(q.contains_key("nonce") && q.contains_key("state"));
        // The upstream session signs the user in at upco.
        b.cookies
            .entry("upco.localhost".to_string())
            .or_default()
            .insert("tenantry_session".into(), self.up_session.clone());
        let up = b.get(&a.location).await;
        assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
        assert!(
            up.location.contains("/federation/corp/callback?"),
            "{}",
            up.location
        );
        b.get(&up.location).await
    }

    /// Finish the app's request: the code, exchanged, gives the ID token's claims.
    async fn app_finishes(&self, b: &mut Browser, pending: &str, verifier: &str) -> Value {
        let a = b
            .get(&self.down(&format!("/oauth2/authorize?pending={pending}")))
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        assert!(a.location.starts_with(APP_CB), "{}", a.location);
        let code = query(&a.location).get("code").cloned().expect("code");
        let r = b
            .http
            .post(self.down("/oauth2/token"))
            .basic_auth(&self.app_client.0, Some(&self.app_client.1))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", APP_CB),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("token");
        let tokens: Value = r.json().await.expect("json");
        payload(
            tokens["id_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{tokens}")),
        )
    }

    pub async fn count(&self, sql: &str, tenant: &str) -> i64 {
        let t = self.core.find_tenant(tenant).await.expect("tenant");
        let mut conn = self.core.store.conn().await.expect("conn");
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(t.id.as_str())
            .fetch_one(&mut *conn)
            .await
            .expect("count");
        n
    }
}

#[tokio::test]
async fn upstream_tenant_signs_admins_in_with_mapped_roles_and_amr_fed() {
    let w = world().await;
    let mut b = Browser::new(w.port);
    let (pending, verifier) = w.app_starts(&mut b).await;
    let done = w.federate(&mut b, Some(&pending)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        done.location
            .ends_with(&format!("/oauth2/authorize?pending={pending}")),
        "the pending request resumes: {}",
        done.location
    );
    let claims = w.app_finishes(&mut b, &pending, &verifier).await;
    assert_eq!(claims["amr"], json!(["fed"]));
    assert_eq!(claims["email"], "pat@corp.example");
    assert_eq!(claims["tenant"], "downco");
    assert_eq!(claims["org_access"], "read-only", "{claims}");
    let sub = claims["sub"].as_str().expect("sub").to_string();
    let jit = "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND source = 'federation'";
    assert_eq!(w.count(jit, "downco").await, 1, "created just in time");

    // Upstream, pat becomes org full: the next sign-in maps to the other role.
    let (s, v) = w
        .api(
            "upco",
            "PATCH",
            &format!("/api/v1/orgs/upco/admins/{}", w.up_membership),
            &w.up_key,
            json!({"org_access": "full"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut b = Browser::new(w.port);
    let (pending, verifier) = w.app_starts(&mut b).await;
    let done = w.federate(&mut b, Some(&pending)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let claims = w.app_finishes(&mut b, &pending, &verifier).await;
    assert_eq!(
        claims["sub"],
        sub.as_str(),
        "the same account, linked by subject"
    );
    assert_eq!(claims["org_access"], "full", "{claims}");
    assert_eq!(claims["amr"], json!(["fed"]));
    assert_eq!(w.count(jit, "downco").await, 1, "no second account");
    let mapped =
        "SELECT COUNT(*) FROM user_mapped_roles WHERE tenant_id = $1 AND source = 'federation'";
    assert_eq!(
        w.count(mapped, "downco").await,
        1,
        "the old role was replaced"
    );

    // Without a pending request the user lands on their account page.
    let mut b = Browser::new(w.port);
    let done = w.federate(&mut b, None).await;
    assert_eq!(
        (done.status, done.location.ends_with("/account")),
        (StatusCode::SEE_OTHER, true)
    );
}

#[tokio::test]
async fn bad_replayed_and_foreign_states_are_refused() {
    let w = world().await;
    let mut b = Browser::new(w.port);
    let a = b
        .get(&w.down("/federation/corp/callback?code=abc&state=nonsense"))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("error: this sign-in expired"), "{}", a.body);
    // An unknown domain has no single sign-on.
    let a = b
        .get(&w.down("/federation/start?email=x%40else.example"))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("error:"), "{}", a.body);

    // A state carried to another browser (login CSRF) is refused, and consumed.
    let start = b
        .get(&w.down("/federation/start?email=pat%40corp.example"))
        .await;
    b.cookies
        .entry("upco.localhost".into())
        .or_default()
        .insert("tenantry_session".into(), w.up_session.clone());
    let up = b.get(&start.location).await;
    let mut other = Browser::new(w.port);
    let a = other.get(&up.location).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("not started in this browser"), "{}", a.body);
    let a = b.get(&up.location).await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "consumed by the failed attempt"
    );

    // A completed sign-in's callback replayed: refused, no second session.
    let mut b = Browser::new(w.port);
    let start = b.get(&w.down("/federation/start?connection=corp")).await;
    b.cookies
        .entry("upco.localhost".into())
        .or_default()
        .insert("tenantry_session".into(), w.up_session.clone());
    let up = b.get(&start.location).await;
    let ok = b.get(&up.location).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let sessions = "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1";
    let before = w.count(sessions, "downco").await;
    let again = b.get(&up.location).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert_eq!(w.count(sessions, "downco").await, before);
    let refused = "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = 'login.federation_refused'";
    assert!(w.count(refused, "downco").await >= 4);
}
