//! Delegations: every refusal with its code, changing nothing; who lists what.

use super::{audit, code, delegate, staff, world, DELS, G, I, M};
use crate::support::T0;
use axum::http::StatusCode;
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn refusals_carry_their_codes_and_change_nothing() {
    let w = world().await;
    let app = &w.app;
    let reader = app
        .admin(
            "globex-acme",
            "reader@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let observer = staff(
        app,
        &w.boss,
        "observer@acme.example",
        json!("observer"),
        Some(json!("all")),
    )
    .await;
    // A local admin of the MSP who is not staff, and a user of another MSP.
    app.admin(
        "acme",
        "local@acme.example",
        Some(OrgAccess::ReadOnly),
        vec![],
    )
    .await;
    app.msp("umbrella", "boss@umbrella.example").await;
    let audit_len = audit(app, G, "globex-acme", &w.owner.key).await.len();

    let boss = &w.boss.key;
    let hq = format!("network:{}", w.hq);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"msp_user": "boss@acme.example"}),
            StatusCode::CONFLICT,
            "super_user_not_delegable",
        ),
        (
            json!({"msp_user": w.boss.user_id}),
            StatusCode::CONFLICT,
            "super_user_not_delegable",
        ),
        (
            json!({"msp_user": "nobody@acme.example"}),
            StatusCode::BAD_REQUEST,
            "unknown_msp_user",
        ),
        (
            json!({"msp_user": "usr_nope"}),
            StatusCode::BAD_REQUEST,
            "unknown_msp_user",
        ),
        (
            json!({"msp_user": "boss@umbrella.example"}),
            StatusCode::BAD_REQUEST,
            "unknown_msp_user",
        ),
        (
            json!({"msp_user": "local@acme.example"}),
            StatusCode::BAD_REQUEST,
            "not_msp_staff",
        ),
        (
            json!({"msp_user": "tech@acme.example", "expires_at": tenantry::clock::rfc3339(T0 - 1)}),
            StatusCode::BAD_REQUEST,
            "invalid_expiry",
        ),
        (
            json!({"msp_user": "tech@acme.example", "expires_at": tenantry::clock::rfc3339(T0)}),
            StatusCode::BAD_REQUEST,
            "invalid_expiry",
        ),
        (
            json!({"msp_user": "tech@acme.example", "expires_at": "tomorrow"}),
            StatusCode::BAD_REQUEST,
            "invalid_expiry",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"grants": [{"target": "all", "access": "full"}]}}),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"grants": [{"target": "tag:hq", "access": "port:lobby"}]}}),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"grants": [{"target": "network:net_nope", "access": "full"}]}}),
            StatusCode::BAD_REQUEST,
            "unknown_network",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"grants": [{"target": hq, "access": "port:lobby"}]}}),
            StatusCode::BAD_REQUEST,
            "unknown_port_privilege",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"org_roles": ["helpdesk"]}}),
            StatusCode::BAD_REQUEST,
            "invalid_bundle",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"org_access": "none"}}),
            StatusCode::BAD_REQUEST,
            "empty_bundle",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"org_access": "owner"}}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundel": {}}),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            json!({"msp_user": "tech@acme.example", "bundle": {"org_acess": "full"}}),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
    ];
    for (body, status, expected) in cases {
        let (s, v) = delegate(app, M, "globex-acme", boss, body.clone()).await;
        assert_eq!((s, code(&v)), (status, expected), "{body}: {v}");
    }
    // Who may create: MSP super-users and the customer's own org-full admins only.
    let ok = json!({"msp_user": "tech@acme.example"});
    let (s, v) = delegate(app, M, "globex-acme", &observer.key, ok.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "delegation_not_allowed")
    );
    let (s, v) = delegate(app, G, "globex-acme", &reader.key, ok.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "delegation_not_allowed")
    );
    let (s, _) = delegate(app, M, "globex-acme", &w.tech.key, ok.clone()).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the technician holds nothing there"
    );
    // Paths that name no customer of this host.
    let (s, _) = delegate(app, G, "initech-acme", &w.owner.key, ok.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = delegate(app, M, "acme", boss, ok.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = delegate(app, M, "umbrella", boss, ok.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Nothing was created, nothing was written to the customer's log.
    let (_, v, _) = app.api("GET", G, DELS, Some(&w.owner.key), None).await;
    assert_eq!(v["items"], json!([]), "{v}");
    assert_eq!(
        audit(app, G, "globex-acme", &w.owner.key).await.len(),
        audit_len
    );

    // A technician holding org full through a delegation still creates, approves and
    // revokes nothing; a read-only admin only looks.
    let (s, d) = delegate(app, M, "globex-acme", boss, ok.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = d["id"].as_str().expect("id").to_string();
    let (s, v) = delegate(app, M, "globex-acme", &w.tech.key, ok.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "delegation_not_allowed")
    );
    let path = format!("{DELS}/{id}");
    let (s, v, _) = app.api("DELETE", M, &path, Some(&w.tech.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "revoke_not_allowed"));
    let (s, v, _) = app.api("DELETE", G, &path, Some(&reader.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "revoke_not_allowed"));
    let (s, v, _) = app.api("GET", G, DELS, Some(&reader.key), None).await;
    assert_eq!(s, StatusCode::OK, "org read-only lists delegations");
    assert_eq!(v["items"][0]["state"], "approved");
    // A stale If-Match is refused; the right one revokes.
    let (s, _, _) = app
        .api_with(
            "DELETE",
            G,
            &path,
            Some(&w.owner.key),
            None,
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (_, _, h) = app.api("GET", G, &path, Some(&w.owner.key), None).await;
    let etag = h["etag"].to_str().expect("etag").to_string();
    let (s, _, _) = app
        .api_with(
            "DELETE",
            G,
            &path,
            Some(&w.owner.key),
            None,
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Another customer's delegation ids are not found here.
    let (s, _, _) = app
        .api(
            "DELETE",
            I,
            &format!("/api/v1/orgs/initech-acme/delegations/{id}"),
            Some(&w.initech_owner.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_msp_lists_its_delegations_across_customers() {
    let w = world().await;
    let app = &w.app;
    let (s, _) = delegate(
        app,
        M,
        "globex-acme",
        &w.boss.key,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, d) = delegate(
        app,
        I,
        "initech-acme",
        &w.initech_owner.key,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");

    let (s, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/acme/delegations",
            Some(&w.boss.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let customers: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["customer"].as_str())
        .collect();
    assert_eq!(customers, vec!["globex-acme", "initech-acme"]);
    let (_, one, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/globex-acme/delegations",
            Some(&w.boss.key),
            None,
        )
        .await;
    assert_eq!(one["items"].as_array().map(Vec::len), Some(1));
    let (_, mine, _) = app.api("GET", G, DELS, Some(&w.owner.key), None).await;
    assert_eq!(ids(&mine), ids(&one), "both sides see the same delegation");
    let (_, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/acme/delegations?msp_user=tech@acme.example&limit=1",
            Some(&w.boss.key),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    assert!(v["next_cursor"].is_string());
    let (s, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/acme/delegations?state=gone",
            Some(&w.boss.key),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_query"));
    // The technician holds nothing in the MSP itself.
    let (s, _, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/acme/delegations",
            Some(&w.tech.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
