//! The upstream OIDC discovery document and JWKS are cached in memory: a second sign-in
//! fetches neither again; an ID token signed with a key the cached JWKS lacks (the
//! provider rotated) makes one fresh fetch, and the sign-in succeeds; a key the provider
//! does not publish at all is refused after that one fetch. Counted at a scripted upstream.

use crate::federation::{query, urlenc, world, Answer, Browser, World};
use crate::support::T0;
use axum::routing::{get, post};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tenantry::core::audit::Actor;
use tenantry::core::federation::{Kind, NewConnection};
use tenantry::jws::{Alg, SigningKey};

/// A scripted OpenID provider counting discovery and JWKS requests; the published key
/// and the signing key (with their kids) can be swapped.
#[derive(Clone)]
struct Upstream {
    issuer: String,
    discovery: Arc<AtomicUsize>,
    jwks: Arc<AtomicUsize>,
    /// The published JWKS.
    published: Arc<Mutex<Vec<Value>>>,
    /// (kid, key) the next ID token is signed with; (nonce, email) it carries.
    signer: Arc<Mutex<(String, Arc<SigningKey>)>>,
    next: Arc<Mutex<(String, String)>>,
}

fn key(kid: &str) -> (Value, Arc<SigningKey>) {
    let (der, mut jwk) = tenantry::jws::generate(Alg::Es256).expect("key");
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!("ES256");
    jwk["use"] = json!("sig");
    let k = SigningKey::from_pkcs8(Alg::Es256, &der).expect("key");
    (jwk, Arc::new(k))
}

async fn upstream() -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (jwk, k) = key("k1");
    let u = Upstream {
        issuer: format!("http://mock.localhost:{port}"),
        discovery: Arc::default(),
        jwks: Arc::default(),
        published: Arc::new(Mutex::new(vec![jwk])),
        signer: Arc::new(Mutex::new(("k1".into(), k))),
        next: Arc::default(),
    };
    let (d, j, t) = (u.clone(), u.clone(), u.clone());
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move {
                d.discovery.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({
                    "issuer": d.issuer,
                    "authorization_endpoint": format!("{}/authorize", d.issuer),
                    "token_endpoint": format!("{}/token", d.issuer),
                    "jwks_uri": format!("{}/jwks", d.issuer),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["ES256"],
                }))
            }),
        )
        .route(
            "/jwks",
            get(move || async move {
                j.jwks.fetch_add(1, Ordering::SeqCst);
                let keys = j.published.lock().expect("lock").clone();
                axum::Json(json!({ "keys": keys }))
            }),
        )
        .route(
            "/token",
            post(move || async move {
                let (nonce, email) = t.next.lock().expect("lock").clone();
                let (kid, k) = t.signer.lock().expect("lock").clone();
                let id_token = k
                    .sign(
                        &kid,
                        "JWT",
                        &json!({"iss": t.issuer, "aud": "cache-client", "sub": email,
                                "nonce": nonce, "iat": T0, "exp": T0 + 300, "email": email}),
                    )
                    .expect("sign");
                axum::Json(json!({"access_token": "at", "token_type": "Bearer",
                                  "expires_in": 300, "id_token": id_token}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    u
}

impl Upstream {
    fn fetches(&self) -> (usize, usize) {
        (
            self.discovery.load(Ordering::SeqCst),
            self.jwks.load(Ordering::SeqCst),
        )
    }

    /// One federated sign-in of `email` at downco through this upstream.
    async fn sign_in(&self, w: &World, email: &str) -> Answer {
        let mut b = Browser::new(w.port);
        let start = b.get(&w.down("/federation/start?connection=cached")).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
        let q = query(&start.location);
        *self.next.lock().expect("lock") = (q["nonce"].clone(), email.to_string());
        b.get(&w.down(&format!(
            "/federation/cached/callback?code=c1&state={}",
            urlenc(&q["state"])
        )))
        .await
    }
}

#[tokio::test]
async fn discovery_and_jwks_are_fetched_once_and_again_for_a_rotated_key() {
    let w = world().await;
    let u = upstream().await;
    let down = w.core.find_tenant("downco").await.expect("downco");
    w.core
        .create_connection(
            &down,
            NewConnection {
                name: "cached".into(),
                display_name: None,
                kind: Kind::Oidc,
                issuer: Some(u.issuer.clone()),
                client_id: Some("cache-client".into()),
                client_secret: Some("cache-secret".into()),
                scopes: vec![],
                metadata: None,
                metadata_url: None,
                claim: None,
                domains: vec!["cache.example".into()],
                allow_linking: false,
            },
            &Actor::cli(),
            None,
        )
        .await
        .expect("connection");

    let a = u.sign_in(&w, "a@cache.example").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(u.fetches(), (1, 1), "fetched once for start and callback");
    let a = u.sign_in(&w, "b@cache.example").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(u.fetches(), (1, 1), "the second sign-in fetches nothing");

    // The provider rotates to k2: the unknown kid makes one fresh fetch, and it works.
    let (jwk, k) = key("k2");
    *u.published.lock().expect("lock") = vec![jwk];
    *u.signer.lock().expect("lock") = ("k2".into(), k);
    let a = u.sign_in(&w, "a@cache.example").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(u.fetches(), (2, 2), "refetched once for the new key");
    let a = u.sign_in(&w, "b@cache.example").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(u.fetches(), (2, 2), "the new key is cached");

    // A key the provider never publishes: one fresh fetch, then refused.
    let (_, k) = key("k3");
    *u.signer.lock().expect("lock") = ("k3".into(), k);
    let a = u.sign_in(&w, "a@cache.example").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("ID token was refused"), "{}", a.body);
    assert_eq!(u.fetches(), (3, 3), "one refetch, no more");
}
