//! The OpenAPI document lists exactly the routes the admin API serves: the routers'
//! source is read and compared with the document both ways, and every documented
//! operation exists (it answers 401 without credentials, not 404 or 405).

use crate::support::test_app;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::collections::BTreeSet;

/// (method, path) of every `.route("PATH", get(..).post(..))` in src/http/api/*.rs.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/api");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("api dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let Some(q1) = rest.find('"') else { break };
            let Some(q2) = rest[q1 + 1..].find('"') else {
                break;
            };
            let path = rest[q1 + 1..q1 + 1 + q2].to_string();
            // The method chain runs to the parenthesis that closes `.route(`.
            let body = &rest[q1 + 1 + q2 + 1..];
            let mut depth = 1;
            let mut end = body.len();
            for (k, c) in body.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = k;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let chain = &body[..end];
            for m in ["get", "post", "patch", "delete", "put"] {
                let bare = chain
                    .trim_start_matches([',', ' ', '\n'])
                    .starts_with(&format!("{m}("));
                if bare || chain.contains(&format!(".{m}(")) {
                    out.insert((m.to_string(), path.clone()));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_operation_exists() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    let r = app.get("acme.localhost:8080", "/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("ops").keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let served = routes_in_source();
    assert!(
        served.len() >= 40,
        "the source scan found the routes: {served:?}"
    );
    let missing: Vec<_> = served.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        extra.is_empty(),
        "documented operations without a route: {extra:?}"
    );
    for (method, path) in &documented {
        if path == "/api/v1/openapi.json" {
            continue;
        }
        let concrete = path
            .replace("{org}", "acme")
            .replace("{id}", "x")
            .replace("{name}", "y");
        let req = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&concrete)
            .header("host", "acme.localhost:8080")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .expect("request");
        let status = app.request(req).await.status;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}
