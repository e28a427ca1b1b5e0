//! Delegations (privileges.md rules 5, 9, 10, 11): who creates, approves and revokes
//! them, what a technician reaches through one, and expiry. Refusals and the MSP-wide
//! list are in `delegations_rules.rs`.

#[path = "delegations_rules.rs"]
mod rules;

use crate::support::{test_app, Admin, TestApp, T0};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;
use tenantry::core::audit::Actor;

pub const M: &str = "acme.localhost:8080";
pub const G: &str = "globex-acme.localhost:8080";
pub const I: &str = "initech-acme.localhost:8080";
pub const DELS: &str = "/api/v1/orgs/globex-acme/delegations";

pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// MSP acme (its boss is a super-user), customers globex (network HQ) and initech, an
/// own org-full admin in each customer, and a technician of acme with an API key.
pub struct World {
    pub app: TestApp,
    pub boss: Admin,
    pub owner: Admin,
    pub initech_owner: Admin,
    pub tech: Admin,
    pub hq: String,
}

pub async fn world() -> World {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let boss_admin = acme.admin.expect("boss");
    let boss = app
        .key_for("acme", &boss_admin.user_id, &boss_admin.membership_id)
        .await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    let hq = app
        .core
        .create_network("globex-acme", "HQ", &["hq".to_string()], &Actor::cli())
        .await
        .expect("network")
        .id;
    let owner = app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let initech_owner = app
        .admin(
            "initech-acme",
            "owner@initech.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let tech = staff(&app, &boss, "tech@acme.example", Value::Null, None).await;
    World {
        app,
        boss,
        owner,
        initech_owner,
        tech,
        hq,
    }
}

/// A staff member created through the API, with an API key of their own.
pub async fn staff(
    app: &TestApp,
    boss: &Admin,
    email: &str,
    role: Value,
    scope: Option<Value>,
) -> Admin {
    let mut body = json!({"email": email, "role": role});
    if let Some(s) = scope {
        body["scope"] = s;
    }
    let (s, v, _) = app
        .api("POST", M, "/api/v1/staff", Some(&boss.key), Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    app.key_for("acme", &id, &id).await
}

/// POST a delegation; the answer's status and body.
pub async fn delegate(
    app: &TestApp,
    host: &str,
    org: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    let (s, v, _) = app
        .api(
            "POST",
            host,
            &format!("/api/v1/orgs/{org}/delegations"),
            Some(key),
            Some(body),
        )
        .await;
    (s, v)
}

/// The technician's privileges in globex as seen from the MSP host.
pub async fn reach(app: &TestApp, key: &str, org: &str) -> (StatusCode, Value) {
    let (s, v, _) = app
        .api(
            "GET",
            M,
            &format!("/api/v1/me/privileges?org={org}"),
            Some(key),
            None,
        )
        .await;
    (s, v)
}

pub async fn audit(app: &TestApp, host: &str, org: &str, key: &str) -> Vec<Value> {
    let (s, v, _) = app
        .api(
            "GET",
            host,
            &format!("/api/v1/orgs/{org}/audit?limit=500"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_technician_reaches_a_customer_only_through_an_active_delegation() {
    let w = world().await;
    let app = &w.app;
    assert_eq!(
        reach(app, &w.tech.key, "globex-acme").await.0,
        StatusCode::NOT_FOUND
    );

    // An MSP super-user delegates from the MSP host; no approval is required here.
    let (s, d) = delegate(
        app,
        M,
        "globex-acme",
        &w.boss.key,
        json!({"msp_user": "Tech@Acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert!(d["id"].as_str().unwrap_or("").starts_with("del_"));
    assert_eq!(d["state"], "approved");
    assert_eq!(d["customer"], "globex-acme");
    assert_eq!(d["msp_user"]["id"], w.tech.user_id.as_str());
    assert_eq!(d["msp_user"]["email"], "tech@acme.example");
    assert_eq!(
        d["bundle"]["org_access"], "full",
        "no bundle means org full"
    );
    assert_eq!(d["created_by"]["id"], w.boss.user_id.as_str());
    assert_eq!(d["created_by"]["msp"], "acme");
    assert_eq!(d["expires_at"], Value::Null);
    assert!(d["created_at"].as_str().unwrap_or("").ends_with('Z'));
    let id = d["id"].as_str().expect("id").to_string();

    let (s, v) = reach(app, &w.tech.key, "globex-acme").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["org_access"], "full");
    let (s, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/globex-acme/networks",
            Some(&w.tech.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"][0]["name"], "HQ");
    // Nothing in the other customer.
    assert_eq!(
        reach(app, &w.tech.key, "initech-acme").await.0,
        StatusCode::NOT_FOUND
    );

    // The customer sees the delegate among its admins.
    let (_, v, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?designation=delegation",
            Some(&w.owner.key),
            None,
        )
        .await;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["email"], "tech@acme.example");
    assert_eq!(items[0]["designations"], json!(["delegation"]));

    // Audited in the customer's log (with the MSP) and in the MSP's own.
    let log = audit(app, G, "globex-acme", &w.owner.key).await;
    let e = log
        .iter()
        .find(|e| e["action"] == "delegation.create")
        .expect("customer entry");
    assert_eq!(e["target"], format!("delegation:{id}"));
    assert_eq!(e["actor"], w.boss.user_id.as_str());
    assert_eq!(e["actor_msp"], "acme");
    assert_eq!(e["actor_msp_user"], "boss@acme.example");
    let log = audit(app, M, "acme", &w.boss.key).await;
    let e = log
        .iter()
        .find(|e| e["action"] == "delegation.create")
        .expect("MSP entry");
    assert_eq!(e["after"]["customer"], "globex-acme");
    assert_eq!(e["actor_msp"], Value::Null);

    // The customer revokes: the row stays, the technician loses everything.
    let path = format!("{DELS}/{id}");
    let (s, _, _) = app.api("DELETE", G, &path, Some(&w.owner.key), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        reach(app, &w.tech.key, "globex-acme").await.0,
        StatusCode::NOT_FOUND
    );
    let (s, v, _) = app.api("GET", G, &path, Some(&w.owner.key), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["state"], "revoked");
    assert_eq!(v["revoked_by"]["id"], w.owner.user_id.as_str());
    assert_eq!(v["revoked_by"]["msp"], Value::Null);
    assert!(v["revoked_at"].is_string());
    let (s, v, _) = app.api("DELETE", G, &path, Some(&w.owner.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_revoked"));
    let (_, v, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?designation=delegation",
            Some(&w.owner.key),
            None,
        )
        .await;
    assert_eq!(v["items"], json!([]), "a revoked delegate is no admin");
    let log = audit(app, G, "globex-acme", &w.owner.key).await;
    assert_eq!(log[0]["action"], "delegation.revoke");
    assert_eq!(log[0]["actor_msp"], Value::Null);
}

#[tokio::test]
async fn a_bundle_limits_the_delegation_and_expiry_ends_it() {
    let w = world().await;
    let app = &w.app;
    let expires = tenantry::clock::rfc3339(T0 + 3600);
    let body = json!({
        "msp_user": w.tech.user_id,
        "bundle": {"grants": [{"target": format!("network:{}", w.hq), "access": "read-only"}]},
        "expires_at": expires,
    });
    let (s, d) = delegate(app, M, "globex-acme", &w.boss.key, body).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(
        d["bundle"]["org_access"], "none",
        "grants without org access mean none"
    );
    assert_eq!(
        d["bundle"]["grants"],
        json!([format!("network:{}=read-only", w.hq)])
    );
    assert_eq!(d["expires_at"], expires.as_str());
    let (s, v) = reach(app, &w.tech.key, "globex-acme").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["org_access"], "none");
    assert_eq!(v["networks"][&w.hq], json!(["read-only"]));
    let (s, _, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/globex-acme/admins",
            Some(&w.tech.key),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "no org access: the admin list is closed"
    );

    // One second before expiry it still counts; at expiry it is gone.
    app.clock.advance(3599);
    assert_eq!(
        reach(app, &w.tech.key, "globex-acme").await.0,
        StatusCode::OK
    );
    app.clock.advance(1);
    assert_eq!(
        reach(app, &w.tech.key, "globex-acme").await.0,
        StatusCode::NOT_FOUND
    );
    let (s, _, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/globex-acme/networks",
            Some(&w.tech.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v, _) = app.api("GET", G, DELS, Some(&w.owner.key), None).await;
    assert_eq!(v["items"][0]["state"], "expired");
    let (_, v, _) = app
        .api(
            "GET",
            G,
            &format!("{DELS}?state=expired"),
            Some(&w.owner.key),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));

    // The MSP side may revoke too (an expired one included), from the MSP host.
    let id = d["id"].as_str().expect("id");
    let (s, _, _) = app
        .api(
            "DELETE",
            M,
            &format!("{DELS}/{id}"),
            Some(&w.boss.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v, _) = app.api("GET", G, DELS, Some(&w.owner.key), None).await;
    assert_eq!(v["items"][0]["state"], "revoked");
    assert_eq!(v["items"][0]["revoked_by"]["msp"], "acme");
    let log = audit(app, G, "globex-acme", &w.owner.key).await;
    assert_eq!(log[0]["action"], "delegation.revoke");
    assert_eq!(log[0]["actor_msp"], "acme");
}

#[tokio::test]
async fn approval_is_the_customers_own_decision() {
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
    let settings = "/api/v1/orgs/globex-acme/settings";
    let (s, v, _) = app
        .api(
            "PATCH",
            G,
            settings,
            Some(&w.owner.key),
            Some(json!({"require_approval": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, d) = delegate(
        app,
        M,
        "globex-acme",
        &w.boss.key,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "pending");
    assert_eq!(d["approved_by"], Value::Null);
    let id = d["id"].as_str().expect("id").to_string();
    assert_eq!(
        reach(app, &w.tech.key, "globex-acme").await.0,
        StatusCode::NOT_FOUND,
        "pending gives nothing"
    );
    let (_, v, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?designation=delegation",
            Some(&w.owner.key),
            None,
        )
        .await;
    assert_eq!(v["items"], json!([]), "a pending delegate is no admin yet");

    let approve = format!("{DELS}/{id}/approve");
    // Never through MSP privileges, never by a read-only admin.
    let (s, v, _) = app.api("POST", M, &approve, Some(&w.boss.key), None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "approval_not_allowed")
    );
    let (s, v, _) = app.api("POST", G, &approve, Some(&reader.key), None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "approval_not_allowed")
    );
    // Another customer's admin does not even see it.
    let (s, _, _) = app
        .api(
            "POST",
            I,
            &format!("/api/v1/orgs/initech-acme/delegations/{id}/approve"),
            Some(&w.initech_owner.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v, _) = app.api("POST", G, &approve, Some(&w.owner.key), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "approved");
    assert_eq!(v["approved_by"]["id"], w.owner.user_id.as_str());
    assert!(v["approved_at"].is_string());
    let (s, v, _) = app.api("POST", G, &approve, Some(&w.owner.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "not_pending"));
    assert_eq!(
        reach(app, &w.tech.key, "globex-acme").await.1["org_access"],
        "full"
    );
    let log = audit(app, G, "globex-acme", &w.owner.key).await;
    assert_eq!(log[0]["action"], "delegation.approve");
    assert_eq!(log[0]["actor"], w.owner.user_id.as_str());

    // A second pending one; the delegate itself (now org full through the MSP) cannot
    // approve it.
    let (_, d2) = delegate(
        app,
        M,
        "globex-acme",
        &w.boss.key,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(d2["state"], "pending");
    let id2 = d2["id"].as_str().expect("id").to_string();
    let (s, v, _) = app
        .api(
            "POST",
            M,
            &format!("{DELS}/{id2}/approve"),
            Some(&w.tech.key),
            None,
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "approval_not_allowed")
    );

    // Toggling require_approval never changes existing delegations.
    for on in [false, true, false] {
        let (s, _, _) = app
            .api(
                "PATCH",
                G,
                settings,
                Some(&w.owner.key),
                Some(json!({"require_approval": on})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        for (id, state) in [(&id, "approved"), (&id2, "pending")] {
            let (_, v, _) = app
                .api("GET", G, &format!("{DELS}/{id}"), Some(&w.owner.key), None)
                .await;
            assert_eq!(v["state"], state, "require_approval={on}");
        }
    }

    // With approval required, the customer's own org-full admin creates approved ones.
    let (s, _, _) = app
        .api(
            "PATCH",
            G,
            settings,
            Some(&w.owner.key),
            Some(json!({"require_approval": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, d3) = delegate(
        app,
        G,
        "globex-acme",
        &w.owner.key,
        json!({"msp_user": w.tech.user_id, "bundle": {"org_access": "read-only"}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d3}");
    assert_eq!(d3["state"], "approved");
    assert_eq!(d3["approved_by"]["id"], w.owner.user_id.as_str());
    assert_eq!(d3["created_by"]["msp"], Value::Null);
}
