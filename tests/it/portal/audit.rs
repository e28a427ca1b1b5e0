//! `/portal/audit`: the chain verification result, the filters (action, actor, "actions
//! by MSP staff"), paging; a network-only admin is refused, another tenant not found.

use super::{assert_accessible, csrf, get, msp, network, post, rows, session, signed_in, G, M};
use crate::support::test_app;
use axum::http::StatusCode;
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};

#[tokio::test]
async fn the_audit_log_is_verified_and_filtered() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    // The MSP boss acts in globex from the MSP host: MSP staff entries.
    let token = csrf(
        &get(&app, M, "/portal/networks?org=globex-acme", &cookie)
            .await
            .body,
    );
    for name in ["Alpha", "Beta"] {
        let p = post(
            &app,
            M,
            "/portal/networks",
            &cookie,
            &[("csrf", &token), ("org", "globex-acme"), ("name", name)],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    }
    let p = get(&app, M, "/portal/audit?org=globex-acme", &cookie).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(
        p.body
            .contains("id=\"chain\" class=\"ok\" role=\"status\">Chain verified:"),
        "{}",
        p.body
    );
    let all = rows(&p.body);
    assert_eq!(
        all, 7,
        "globex created, two admins with their API keys, two networks"
    );
    let p = get(&app, M, "/portal/audit?org=globex-acme&msp_only=1", &cookie).await;
    assert_eq!(rows(&p.body), 2);
    assert_eq!(
        p.body
            .matches("MSP user boss@acme.example from MSP acme")
            .count(),
        2
    );
    assert!(p.body.contains("value=\"1\" checked"), "the filter stays");
    let p = get(
        &app,
        M,
        "/portal/audit?org=globex-acme&action=network.",
        &cookie,
    )
    .await;
    assert_eq!(rows(&p.body), 2);
    let p = get(
        &app,
        M,
        "/portal/audit?org=globex-acme&action=admin.",
        &cookie,
    )
    .await;
    assert_eq!(rows(&p.body), 2);
    assert!(!p.body.contains("MSP user boss"));
    let p = get(
        &app,
        M,
        "/portal/audit?org=globex-acme&actor=boss%40acme.example",
        &cookie,
    )
    .await;
    assert_eq!(rows(&p.body), 2);
    let p = get(
        &app,
        M,
        "/portal/audit?org=globex-acme&since=2999-01-01T00:00:00Z",
        &cookie,
    )
    .await;
    assert_eq!(rows(&p.body), 0);
    assert!(p.body.contains("No entries match."));
    let p = get(
        &app,
        M,
        "/portal/audit?org=globex-acme&since=yesterday",
        &cookie,
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p
        .body
        .contains("since must be an RFC 3339 time or unix seconds"));
}

#[tokio::test]
async fn the_audit_log_pages_and_refuses() {
    let app = test_app().await;
    msp(&app).await;
    for i in 0..60 {
        network(&app, "globex-acme", &format!("N{i:02}"), &[]).await;
    }
    let (_, rc) = signed_in(
        &app,
        "globex-acme",
        "ro@globex.example",
        Some(OrgAccess::ReadOnly),
    )
    .await;
    let p = get(&app, G, "/portal/audit", &rc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(rows(&p.body), 50);
    let next = p
        .body
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a next page")
        .replace("&amp;", "&");
    let p = get(&app, G, &next, &rc).await;
    assert_eq!(
        rows(&p.body),
        67 - 50,
        "created, 60 networks, three admins and their keys"
    );
    assert!(!p.body.contains("rel=\"next\""));
    // Filtered by action across core's pages.
    let p = get(&app, G, "/portal/audit?action=admin.", &rc).await;
    assert_eq!(rows(&p.body), 3);

    // Another tenant: not found. A network-only admin: refused.
    assert_eq!(
        get(&app, G, "/portal/audit?org=initech-acme", &rc)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let nets = app.core.list_networks("globex-acme").await.expect("nets");
    let mon = app
        .admin(
            "globex-acme",
            "mon@globex.example",
            None,
            vec![Grant {
                target: Target::Network(nets[0].id.clone()),
                access: NetworkAccess::Full,
            }],
        )
        .await;
    let mc = session(&app, "globex-acme", &mon.user_id).await;
    let p = get(&app, G, "/portal/audit", &mc).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("the audit log needs org read-only access"));
    assert!(!p.body.contains("network.create"));
}
