//! In-process cost of a client_credentials request through the whole router, beside the
//! bare ES256 signature: what the app adds to the signer, without the kernel and hyper.
//! Not part of the product: a tool for profiling the token path.
//!
//! Usage: `token_inproc [ITERATIONS]`
#![forbid(unsafe_code)]

#[path = "../benches/support/server.rs"]
#[allow(dead_code)]
mod server;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use std::sync::Arc;
use std::time::Instant;
use tenantry::app::{self, AppState};
use tenantry::clock::{SharedClock, SystemClock};
use tenantry::config::PublicUrl;
use tenantry::core::audit::Actor;
use tenantry::core::tenants::NewTenant;
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = server::temp_config(dir.path());
    let public = PublicUrl::parse("http://localhost:8080").expect("url");
    let clock: SharedClock = Arc::new(SystemClock);
    let core = app::open(&config, public, clock).await.expect("open");
    let actor = Actor::cli();
    core.create_msp(
        NewTenant {
            name: "acme",
            display_name: None,
            admin_email: Some("b@acme.example"),
        },
        &actor,
    )
    .await
    .expect("msp");
    core.create_customer(
        NewTenant {
            name: "globex",
            display_name: None,
            admin_email: None,
        },
        "acme",
        &actor,
    )
    .await
    .expect("customer");
    let tenant = core.find_tenant("globex-acme").await.expect("tenant");
    let new = serde_json::from_value(serde_json::json!({
        "name": "bench", "grant_types": ["client_credentials"], "scopes": ["privileges"]
    }))
    .expect("client");
    let (client, secret) = core
        .create_client(&tenant, new, &actor, None)
        .await
        .expect("client");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        client.id,
        secret.expect("secret")
    ));
    let state = AppState::new(core);
    let router = app::router(state);
    let request = || {
        Request::post("/oauth2/token")
            .header("host", "globex-acme.localhost:8080")
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=client_credentials&scope=privileges"))
            .expect("request")
    };
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("key");
    let signer = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
    let message = [b'a'; 420];
    for round in 0..3 {
        let t = Instant::now();
        for _ in 0..n {
            let resp = router.clone().oneshot(request()).await.expect("response");
            assert_eq!(resp.status(), 200);
            let body = axum::body::to_bytes(resp.into_body(), 4096)
                .await
                .expect("body");
            std::hint::black_box(body);
        }
        let full = t.elapsed().as_nanos() as f64 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(signer.sign(&rng, &message).expect("sign"));
        }
        let sign = t.elapsed().as_nanos() as f64 / n as f64;
        println!(
            "round {round}: router {:.2} us, ES256 sign {:.2} us, app beyond signing {:.2} us",
            full / 1000.0,
            sign / 1000.0,
            (full - sign) / 1000.0
        );
    }
}
