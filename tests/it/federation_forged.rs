//! Inbound OIDC federation against a scripted OpenID provider (discovery, JWKS, a token
//! endpoint whose ID token the test writes): a wrong nonce and an ID token from another
//! issuer are refused, an e-mail collision without linking is refused, and linking works
//! once the connection allows it for a verified domain. Refusals change nothing.

use crate::federation::{query, urlenc, world, Answer, Browser, World};
use crate::support::T0;
use axum::routing::{get, post};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tenantry::core::audit::Actor;
use tenantry::core::federation::{Kind, NewConnection};

/// A scripted OpenID provider: discovery, JWKS, and a token endpoint answering an ID token
/// whose issuer and nonce the test chooses.
#[derive(Clone)]
struct Mock {
    issuer: String,
    jwk: Value,
    key: Arc<tenantry::jws::SigningKey>,
    /// (iss, nonce, email) of the next ID token.
    next: Arc<Mutex<(String, String, String)>>,
}

async fn mock(client_id: &str) -> Mock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (der, mut jwk) = tenantry::jws::generate(tenantry::jws::Alg::Es256).expect("key");
    jwk["kid"] = json!("k1");
    jwk["alg"] = json!("ES256");
    jwk["use"] = json!("sig");
    let m = Mock {
        issuer: format!("http://mock.localhost:{port}"),
        jwk,
        key: Arc::new(
            tenantry::jws::SigningKey::from_pkcs8(tenantry::jws::Alg::Es256, &der).expect("key"),
        ),
        next: Arc::new(Mutex::new(Default::default())),
    };
    let client_id = client_id.to_string();
    let (d, j, t) = (m.clone(), m.clone(), m.clone());
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move {
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
            get(move || async move { axum::Json(json!({"keys": [j.jwk]})) }),
        )
        .route(
            "/token",
            post(move || async move {
                let (iss, nonce, email) = t.next.lock().expect("lock").clone();
                let id_token = t
                    .key
                    .sign(
                        "k1",
                        "JWT",
                        &json!({"iss": iss, "aud": client_id, "sub": "m-1", "nonce": nonce,
                                "iat": T0, "exp": T0 + 300, "email": email, "groups": ["ops"]}),
                    )
                    .expect("sign");
                axum::Json(json!({"access_token": "at", "token_type": "Bearer",
                                  "expires_in": 300, "id_token": id_token}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    m
}

async fn mock_connection(w: &World, m: &Mock, name: &str, domain: &str, linking: bool) {
    let down = w.core.find_tenant("downco").await.expect("downco");
    w.core
        .create_connection(
            &down,
            NewConnection {
                name: name.into(),
                display_name: None,
                kind: Kind::Oidc,
                issuer: Some(m.issuer.clone()),
                client_id: Some("mock-client".into()),
                client_secret: Some("mock-secret".into()),
                scopes: vec![],
                metadata: None,
                metadata_url: None,
                claim: None,
                domains: vec![domain.into()],
                allow_linking: linking,
            },
            &Actor::cli(),
            None,
        )
        .await
        .expect("connection");
}

/// Start at downco, then come back from the mock with an ID token made of `iss`, the nonce
/// (the real one, or `nonce` when given) and `email`.
async fn via_mock(
    w: &World,
    m: &Mock,
    name: &str,
    iss: &str,
    nonce: Option<&str>,
    email: &str,
) -> Answer {
    let mut b = Browser::new(w.port);
    let start = b
        .get(&w.down(&format!("/federation/start?connection={name}")))
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let q = query(&start.location);
    *m.next.lock().expect("lock") = (
        iss.to_string(),
        nonce.map_or_else(|| q["nonce"].clone(), str::to_string),
        email.to_string(),
    );
    b.get(&w.down(&format!(
        "/federation/{name}/callback?code=c1&state={}",
        urlenc(&q["state"])
    )))
    .await
}

#[tokio::test]
async fn forged_id_tokens_and_email_collisions_are_refused() {
    let w = world().await;
    let m = mock("mock-client").await;
    mock_connection(&w, &m, "mock", "mock.example", false).await;
    let users = "SELECT COUNT(*) FROM users WHERE tenant_id = $1";
    let sessions = "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1";
    let (u0, s0) = (
        w.count(users, "downco").await,
        w.count(sessions, "downco").await,
    );

    let a = via_mock(
        &w,
        &m,
        "mock",
        &m.issuer,
        Some("not-the-nonce"),
        "a@mock.example",
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(
        a.body
            .contains("error: the identity provider&#39;s ID token was refused"),
        "{}",
        a.body
    );
    let a = via_mock(
        &w,
        &m,
        "mock",
        "http://other.localhost",
        None,
        "a@mock.example",
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "another issuer: {}",
        a.body
    );
    // The e-mail of an existing local account, linking not allowed.
    let a = via_mock(&w, &m, "mock", &m.issuer, None, "boss@downco.example").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("already exists"), "{}", a.body);
    assert_eq!(
        (
            w.count(users, "downco").await,
            w.count(sessions, "downco").await
        ),
        (u0, s0),
        "refusals change nothing"
    );

    // A genuine token signs in (JIT).
    let a = via_mock(&w, &m, "mock", &m.issuer, None, "a@mock.example").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(w.count(users, "downco").await, u0 + 1);

    // Linking: allowed by the connection, but only for its verified domains.
    let m2 = mock("mock-client").await;
    mock_connection(&w, &m2, "mock2", "downco.example", true).await;
    let a = via_mock(&w, &m2, "mock2", &m2.issuer, None, "boss@downco.example").await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "domain not verified yet: {}",
        a.body
    );
    let down = w.core.find_tenant("downco").await.expect("downco");
    w.core
        .verify_domain(&down, "downco.example", &Actor::cli(), None)
        .await
        .expect("verify");
    let a = via_mock(&w, &m2, "mock2", &m2.issuer, None, "boss@downco.example").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        w.count(users, "downco").await,
        u0 + 1,
        "linked, not created"
    );
}
