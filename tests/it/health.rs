//! /healthz, /readyz, /metrics and the request id.

use crate::support::test_app;
use axum::body::Body;
use axum::http::{Request, StatusCode};

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let app = test_app().await;
    assert_eq!(
        app.get("localhost:8080", "/healthz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("localhost:8080", "/readyz").await.status,
        StatusCode::OK
    );
    app.core.store.close().await;
    let r = app.get("localhost:8080", "/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // The process itself is still up.
    assert_eq!(
        app.get("localhost:8080", "/healthz").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn health_answers_on_any_host() {
    let app = test_app().await;
    for host in [
        "localhost",
        "127.0.0.1:8080",
        "nobody.localhost",
        "evil.example",
    ] {
        assert_eq!(
            app.get(host, "/healthz").await.status,
            StatusCode::OK,
            "{host}"
        );
        assert_eq!(
            app.get(host, "/metrics").await.status,
            StatusCode::OK,
            "{host}"
        );
    }
}

#[tokio::test]
async fn metrics_use_route_templates_and_tenant_kinds_never_names() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.get("globex-acme.localhost:8080", "/").await;
    app.get("globex-acme.localhost:8080", "/enroll/tnt_enr_secret-token")
        .await;
    app.get("hooli-acme.localhost:8080", "/").await;
    let m = app.get("localhost", "/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.headers["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain"));
    let text = m.body;
    assert!(
        text.contains(
            r#"tenantry_http_requests_total{route="/",status="200",tenant_kind="customer"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"status="404",tenant_kind="unknown""#),
        "{text}"
    );
    assert!(text.contains("tenantry_http_request_duration_seconds_bucket"));
    assert!(text.contains("tenantry_db_pool_connections{state=\"open\"}"));
    for secret in [
        "globex",
        "acme",
        "hooli",
        "tnt_enr_",
        "secret-token",
        "localhost",
    ] {
        assert!(!text.contains(secret), "metrics leak {secret}: {text}");
    }
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_made_otherwise() {
    let app = test_app().await;
    let req = |id: &str| {
        Request::get("/healthz")
            .header("host", "localhost")
            .header("x-request-id", id)
            .body(Body::empty())
            .expect("request")
    };
    let r = app.request(req("abc-DEF_123")).await;
    assert_eq!(r.headers["x-request-id"], "abc-DEF_123");
    let r = app.request(req("bad id with spaces")).await;
    let made = r.headers["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(made != "bad id with spaces" && !made.is_empty() && made.len() <= 64);
    let r = app.request(req(&"a".repeat(65))).await;
    assert_ne!(r.headers["x-request-id"], "a".repeat(65).as_str());
    // Unknown hosts get one too.
    let r = app.get("nowhere.localhost", "/").await;
    assert!(r.headers.contains_key("x-request-id"));
}

/// The pipeline resolves a tenant two ways: waiting on a fresh read when its snapshot is
/// due a check (the first request after a tenant changes), and from the snapshot as it
/// stands otherwise. Both answer alike: the tenant, its request id, its metrics.
#[tokio::test]
async fn tenant_hosts_answer_alike_on_a_fresh_read_and_from_the_snapshot() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    let req = |host: &str, id: &str| {
        Request::get("/")
            .header("host", host)
            .header("x-request-id", id)
            .body(Body::empty())
            .expect("request")
    };
    for (n, id) in ["fresh-read", "from-snapshot"].iter().enumerate() {
        let r = app.request(req("globex-acme.localhost:8080", id)).await;
        assert_eq!(r.status, StatusCode::OK, "{id}");
        assert!(r.body.contains("globex-acme"), "{id}: {}", r.body);
        assert_eq!(r.headers["x-request-id"], *id);
        let unknown = app.request(req("hooli-acme.localhost:8080", id)).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(unknown.headers["x-request-id"], *id);
        let m = app.get("localhost", "/metrics").await.body;
        let line = format!(
            r#"tenantry_http_requests_total{{route="/",status="200",tenant_kind="customer"}} {}"#,
            n + 1
        );
        assert!(m.contains(&line), "{id}: {m}");
    }
    // A tenant created after the snapshot is found at once.
    app.customer("initech", "acme", "Initech").await;
    let r = app.request(req("initech-acme.localhost:8080", "new")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("initech-acme"), "{}", r.body);
}

/// `POST /oauth2/token` is served ahead of the Router (`app::App`), through the same
/// pipeline: hosts are checked, request ids echoed, metrics carry its route template;
/// its other methods still get the Router's 405, and a body past its limit gets an OAuth
/// error rather than a dropped connection.
#[tokio::test]
async fn the_token_endpoint_keeps_the_pipeline_ahead_of_the_router() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    let post = |host: &str, id: &str, body: String| {
        Request::post("/oauth2/token")
            .header("host", host)
            .header("x-request-id", id)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request")
    };
    let form = || "grant_type=client_credentials&client_id=cli_nobody".to_string();
    // Unknown tenant, the bare host, an unrelated host: 404, nothing revealed.
    for host in [
        "hooli-acme.localhost:8080",
        "localhost:8080",
        "evil.example",
    ] {
        let r = app.request(post(host, "tok-404", form())).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{host}");
        assert_eq!(r.headers["x-request-id"], "tok-404", "{host}");
        assert!(!r.body.contains("invalid_client"), "{host}: {}", r.body);
    }
    // The tenant's endpoint answers in OAuth's format, with the caller's request id.
    let r = app
        .request(post("globex-acme.localhost:8080", "tok-1", form()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(r.body.contains(r#""error":"invalid_client""#), "{}", r.body);
    assert_eq!(r.headers["x-request-id"], "tok-1");
    assert_eq!(r.headers["cache-control"], "no-store");
    // Past 64 KiB: 413 in OAuth's format.
    let big = format!("{}&pad={}", form(), "a".repeat(70 * 1024));
    let r = app
        .request(post("globex-acme.localhost:8080", "tok-big", big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.body.contains(r#""error":"invalid_request""#),
        "{}",
        r.body
    );
    assert_eq!(r.headers["x-request-id"], "tok-big");
    // Other methods: the Router's 405.
    let r = app
        .request(
            Request::get("/oauth2/token")
                .header("host", "globex-acme.localhost:8080")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let m = app.get("localhost", "/metrics").await.body;
    for line in [
        r#"tenantry_http_requests_total{route="/oauth2/token",status="401",tenant_kind="customer"} 1"#,
        r#"tenantry_http_requests_total{route="/oauth2/token",status="413",tenant_kind="customer"} 1"#,
        r#"tenantry_http_requests_total{route="/oauth2/token",status="404",tenant_kind="unknown"} 2"#,
        r#"tenantry_http_requests_total{route="/oauth2/token",status="404",tenant_kind="none"} 1"#,
        r#"tenantry_http_requests_total{route="/oauth2/token",status="405",tenant_kind="customer"} 1"#,
    ] {
        assert!(m.contains(line), "{line}: {m}");
    }
}
