//! SAML service providers registered from a metadata URL (issue 7): fetched once, https
//! only and no private or loopback address unless the server runs with
//! `--allow-insecure-fetch` (decisions.md); through the admin API and the CLI. Every
//! refusal registers nothing.

use crate::saml::{sp_metadata, world, World, G, SP};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A loopback HTTP server on its own thread (the CLI blocks the test's runtime): `/md.xml`
/// answers `body`, `/bad.xml` a document with a DTD, anything else 404. Counts requests.
pub(crate) struct MetadataServer {
    pub(crate) port: u16,
    pub(crate) hits: Arc<AtomicUsize>,
}

pub(crate) fn serve(body: String) -> MetadataServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            counter.fetch_add(1, Ordering::SeqCst);
            let (status, text) = if head.starts_with("GET /md.xml ") {
                ("200 OK", body.as_str())
            } else if head.starts_with("GET /bad.xml ") {
                ("200 OK", "<!DOCTYPE x><x/>")
            } else {
                ("404 Not Found", "no")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/samlmetadata+xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    MetadataServer { port, hits }
}

const PATH: &str = "/api/v1/orgs/globex-acme/saml-sps";

async fn full_admin(w: &World) -> String {
    w.app
        .admin(
            "globex-acme",
            "root@globex.example",
            Some(tenantry::authz::OrgAccess::Full),
            vec![],
        )
        .await
        .key
}

async fn count(w: &World) -> usize {
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    w.app.core.list_saml_sps(&t).await.expect("list").len()
}

#[tokio::test]
async fn the_admin_api_fetches_metadata_once_under_the_fetch_policy() {
    let w = world().await;
    let key = full_admin(&w).await;
    let srv = serve(sp_metadata(SP, None, false));
    let url = format!("http://127.0.0.1:{}/md.xml", srv.port);
    let post = |body: Value| {
        let key = key.clone();
        let w = &w;
        async move { w.app.api("POST", G, PATH, Some(&key), Some(body)).await }
    };
    // The server as started by default: http, loopback and private addresses refused.
    for (u, why) in [
        (url.clone(), "only https"),
        (
            format!("https://127.0.0.1:{}/md.xml", srv.port),
            "private address",
        ),
        ("https://10.1.2.3/md.xml".to_string(), "private address"),
        ("https://localhost/md.xml".to_string(), "loopback"),
        ("not a url".to_string(), "not a URL"),
    ] {
        let (st, err, _) = post(json!({ "metadata_url": u })).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{u}: {err}");
        assert_eq!(err["error"]["code"], "invalid_metadata_url", "{err}");
        let msg = err["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(why), "{u}: {msg}");
    }
    let (st, _, _) =
        post(json!({"metadata": sp_metadata(SP, None, false), "metadata_url": url})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(srv.hits.load(Ordering::SeqCst), 0, "nothing was fetched");
    assert_eq!(count(&w).await, 0);

    // With --allow-insecure-fetch (tests only) the loopback server is reachable.
    let insecure = w.app.core.clone().with_insecure_fetch(true);
    let state = tenantry::app::AppState::new(insecure);
    let send = |body: Value| {
        let state = state.clone();
        let key = key.clone();
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post(PATH)
                .header("host", G)
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .expect("request");
            let resp = tenantry::app::router(state)
                .oneshot(req)
                .await
                .expect("answer");
            let st = resp.status();
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .expect("body")
                .to_bytes();
            (
                st,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let missing = format!("http://127.0.0.1:{}/nothing.xml", srv.port);
    let (st, err) = send(json!({ "metadata_url": missing })).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("HTTP 404"));
    let bad = format!("http://127.0.0.1:{}/bad.xml", srv.port);
    let (st, err) = send(json!({ "metadata_url": bad })).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("DTD"));
    assert_eq!(count(&w).await, 0);
    let before = srv.hits.load(Ordering::SeqCst);
    let (st, sp) = send(json!({ "metadata_url": url })).await;
    assert_eq!(st, StatusCode::CREATED, "{sp}");
    assert_eq!(sp["entity_id"], SP);
    assert_eq!(sp["metadata_url"], url.as_str());
    assert_eq!(srv.hits.load(Ordering::SeqCst), before + 1, "fetched once");
    // The registered SP works: an AuthnRequest from it is answered.
    let q = crate::saml::redirect_query(
        &crate::saml::authn_request("_u1", SP, crate::saml::SSO, crate::saml::ACS, false),
        None,
        None,
    );
    assert_eq!(w.sso_get(&q, true).await.status, StatusCode::OK);
    assert_eq!(srv.hits.load(Ordering::SeqCst), before + 1, "never again");
}

#[tokio::test]
async fn the_cli_fetches_metadata_with_the_same_policy() {
    let w = world().await;
    let srv = serve(sp_metadata(SP, None, false));
    let url = format!("http://127.0.0.1:{}/md.xml", srv.port);
    let base = [
        "saml-sp",
        "add",
        "--tenant",
        "globex-acme",
        "--metadata-url",
    ];
    let out = w
        .app
        .env
        .command()
        .args(base)
        .arg(&url)
        .output()
        .expect("run tenantry");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only https"), "{err}");
    assert_eq!(srv.hits.load(Ordering::SeqCst), 0);
    assert_eq!(count(&w).await, 0);
    let out = w
        .app
        .env
        .command()
        .args(base)
        .arg(&url)
        .arg("--allow-insecure-fetch")
        .output()
        .expect("run tenantry");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sp: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(sp["entity_id"], SP);
    assert_eq!(sp["metadata_url"], url.as_str());
    assert_eq!(srv.hits.load(Ordering::SeqCst), 1);
    assert_eq!(count(&w).await, 1);
}
