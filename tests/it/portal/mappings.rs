//! `/portal/role-mappings`: list, create from the form (selectors, org access, tag
//! grants), delete; rule 5 and the read-only refusal in place; another tenant's mapping is
//! not found.

use super::{assert_accessible, csrf, get, msp, network, post, row_of, signed_in, G};
use crate::support::test_app;
use axum::http::StatusCode;
use tenantry::authz::OrgAccess;

#[tokio::test]
async fn role_mappings_are_created_and_deleted_through_the_form() {
    let app = test_app().await;
    msp(&app).await;
    network(&app, "globex-acme", "Alpha", &["branch"]).await;
    let (a, ac) = signed_in(
        &app,
        "globex-acme",
        "full@globex.example",
        Some(OrgAccess::Full),
    )
    .await;
    let p = get(&app, G, "/portal/role-mappings", &ac).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("No role mappings yet."));
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/role-mappings",
        &ac,
        &[
            ("csrf", &token),
            ("name", "netadmins"),
            ("selectors", "group=Network admins\nclaim:role=netadmin"),
            ("org_access", "read-only"),
            ("tag_grants", "branch=full"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &ac).await;
    assert!(p.body.contains("Role mapping created."));
    let row = row_of(&p.body, "netadmins");
    assert!(
        row.contains("claim role = netadmin; group Network admins"),
        "{row}"
    );
    assert!(
        row.contains("org access read-only; tag:branch=full"),
        "{row}"
    );
    // A bad selector: the error in place, what was typed kept, nothing created.
    let p = post(
        &app,
        G,
        "/portal/role-mappings",
        &ac,
        &[
            ("csrf", &token),
            ("name", "other"),
            ("selectors", "nonsense"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p
        .body
        .contains("id=\"create-error\" class=\"error\" role=\"alert\""));
    assert!(p.body.contains("value=\"other\""));

    let list = || {
        app.api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/role-mappings",
            Some(&a.key),
            None,
        )
    };
    let (_, body, _) = list().await;
    let items = body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].as_str().expect("id").to_string();
    let p = post(
        &app,
        G,
        "/portal/role-mappings/delete",
        &ac,
        &[("csrf", &token), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let (_, body, _) = list().await;
    assert_eq!(body["items"], serde_json::json!([]));
}

#[tokio::test]
async fn role_mappings_refuse_read_only_admins_and_other_tenants() {
    let app = test_app().await;
    msp(&app).await;
    let (_, rc) = signed_in(
        &app,
        "globex-acme",
        "ro@globex.example",
        Some(OrgAccess::ReadOnly),
    )
    .await;
    let p = get(&app, G, "/portal/role-mappings", &rc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(!p.body.contains("Add a role mapping"));
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/role-mappings",
        &rc,
        &[
            ("csrf", &token),
            ("name", "sneaky"),
            ("org_access", "read-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may manage role mappings"));
    assert!(p.body.contains("No role mappings yet."));

    // Initech's mapping, asked for by an org-full admin of globex: not found.
    let (_, body, _) = {
        let i = app
            .admin(
                "initech-acme",
                "i@initech.example",
                Some(OrgAccess::Full),
                vec![],
            )
            .await;
        app.api(
            "POST",
            "initech-acme.localhost:8080",
            "/api/v1/orgs/initech-acme/role-mappings",
            Some(&i.key),
            Some(serde_json::json!({"name": "theirs"})),
        )
        .await
    };
    let theirs = body["id"].as_str().expect("mapping id").to_string();
    let (_, ac) = signed_in(
        &app,
        "globex-acme",
        "full@globex.example",
        Some(OrgAccess::Full),
    )
    .await;
    let token = csrf(&get(&app, G, "/portal/role-mappings", &ac).await.body);
    let p = post(
        &app,
        G,
        "/portal/role-mappings/delete",
        &ac,
        &[("csrf", &token), ("id", &theirs)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}
