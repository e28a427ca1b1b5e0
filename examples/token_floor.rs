//! The floor for `bench/oidc.sh`: the least a token endpoint can do on this machine with
//! the same HTTP stack (axum on tokio, as `tenantry serve`) and the same signer (ring
//! ES256). One route, no tenant, no client authentication, no form parsing: it signs a
//! JWT of the same size as tenantry's client_credentials token and answers it as JSON.
//! Not part of the product; it gives the benchmark a baseline measured in the same run.
//!
//! Usage: `token_floor 127.0.0.1:PORT`
#![forbid(unsafe_code)]

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use std::sync::Arc;

const HEADER: &str = r#"{"alg":"ES256","kid":"sig_0000000000000000000a","typ":"at+jwt"}"#;

async fn token(key: Arc<EcdsaKeyPair>, body: axum::body::Bytes) -> axum::response::Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = format!(
        r#"{{"iss":"http://globex-acme.localhost:8080","sub":"cli_00000000000000000000","aud":"cli_00000000000000000000","client_id":"cli_00000000000000000000","iat":{now},"exp":{},"jti":"AAAAAAAAAAAAAAAAAAAAAA","scope":"privileges","n":{}}}"#,
        now + 600,
        body.len()
    );
    let mut jwt = String::with_capacity(600);
    B64URL.encode_string(HEADER, &mut jwt);
    jwt.push('.');
    B64URL.encode_string(claims, &mut jwt);
    let Ok(sig) = key.sign(&SystemRandom::new(), jwt.as_bytes()) else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    jwt.push('.');
    B64URL.encode_string(sig.as_ref(), &mut jwt);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!(
            r#"{{"access_token":"{jwt}","token_type":"Bearer","expires_in":600,"scope":"privileges"}}"#
        ),
    )
        .into_response()
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).expect("usage: token_floor ADDR");
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let key = Arc::new(
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key"),
    );
    let app =
        axum::Router::new().route("/oauth2/token", post(move |body| token(key.clone(), body)));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    use axum::serve::ListenerExt;
    // As `tenantry serve` does.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.expect("serve");
}
