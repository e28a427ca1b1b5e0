//! `/api/v1/customers` on the MSP host: the overview with its counts and warnings,
//! creating (and cloning from a template), deleting, and who may do it.

use crate::support::test_app;
use axum::http::StatusCode;
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;
use tenantry::core::audit::Actor;

const M: &str = "acme.localhost:8080";

#[tokio::test]
async fn the_msp_overview_lists_customers_with_counts_and_warnings() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let boss = acme.admin.expect("boss");
    let boss = app
        .key_for("acme", &boss.user_id, &boss.membership_id)
        .await;
    let globex_id = app.customer("globex", "acme", "Globex").await.tenant.id;
    app.customer("initech", "acme", "Initech").await;
    app.admin(
        "globex-acme",
        "a@globex.example",
        Some(OrgAccess::Full),
        vec![],
    )
    .await;
    app.admin(
        "globex-acme",
        "b@globex.example",
        Some(OrgAccess::Full),
        vec![],
    )
    .await;
    // Globex has its own SSO, and one of its admins signed in through it.
    let a = app
        .admin(
            "globex-acme",
            "sso@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    for sql in [
        "INSERT INTO federation_connections (tenant_id, id, name, display_name, kind, issuer, claim, created_at) \
         VALUES ($1, 'fed_1', 'okta', 'Okta', 'oidc', 'https://okta.example', 'groups', 1)",
        "INSERT INTO federated_identities (tenant_id, connection_id, subject, user_id, created_at, last_login_at) \
         VALUES ($1, 'fed_1', 'sub-1', $2, 1, 1767225600)",
    ] {
        sqlx::query(sql)
            .bind(&globex_id)
            .bind(&a.user_id)
            .execute(app.core.store.pool())
            .await
            .expect(sql);
    }
    let (s, v, _) = app
        .api("GET", M, "/api/v1/customers", Some(&boss.key), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let globex = items
        .iter()
        .find(|c| c["name"] == "globex-acme")
        .expect("globex");
    assert_eq!(globex["admins"], 3);
    assert_eq!(globex["org_full_admins"], 2);
    assert_eq!(globex["pending_admins"], 3);
    assert_eq!(globex["warnings"], json!([]));
    assert_eq!(globex["federation_connections"], 1);
    assert_eq!(globex["last_sign_in"], "2026-01-01T00:00:00Z");
    let initech = items
        .iter()
        .find(|c| c["name"] == "initech-acme")
        .expect("initech");
    assert_eq!(initech["federation_connections"], 0);
    assert_eq!(initech["last_sign_in"], Value::Null);
    assert_eq!(
        initech["warnings"].as_array().map(Vec::len),
        Some(1),
        "fewer than two org-full admins"
    );
    // Staff without a role reach no customer; on a customer host the route does not exist.
    let staff = app
        .admin(
            "acme",
            "tech@acme.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let (_, v, _) = app
        .api("GET", M, "/api/v1/customers", Some(&staff.key), None)
        .await;
    assert_eq!(v["items"], json!([]));
    let g = app
        .admin(
            "globex-acme",
            "c@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let (s, _, _) = app
        .api(
            "GET",
            "globex-acme.localhost:8080",
            "/api/v1/customers",
            Some(&g.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn customers_are_created_cloned_and_deleted_by_super_users() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let boss = acme.admin.expect("boss");
    let boss = app
        .key_for("acme", &boss.user_id, &boss.membership_id)
        .await;
    app.customer("template", "acme", "Template").await;
    let hq = app
        .core
        .create_network(
            "template-acme",
            "HQ",
            &["hq".into(), "branch".into()],
            &Actor::cli(),
        )
        .await
        .expect("net");
    app.core
        .add_port_privilege("template-acme", &hq.id, "lobby", true, &Actor::cli())
        .await
        .expect("port");
    let tkey = app
        .admin(
            "template-acme",
            "t@template.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let (s, v, _) = app
        .api(
            "POST",
            "template-acme.localhost:8080",
            "/api/v1/orgs/template-acme/role-mappings",
            Some(&tkey.key),
            Some(json!({
                "name": "netadmins",
                "bundle": {"grants": [{"target": format!("network:{}", hq.id), "access": "full"}]},
                "selectors": [{"kind": "group_name", "value": "Network Admins"}]
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v, _) = app
        .api(
            "PATCH",
            "template-acme.localhost:8080",
            "/api/v1/orgs/template-acme/settings",
            Some(&tkey.key),
            Some(json!({"require_approval": true, "branding": {"primary_color": "#123456"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let staff = app
        .admin(
            "acme",
            "tech@acme.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let (s, v, _) = app
        .api(
            "POST",
            M,
            "/api/v1/customers",
            Some(&staff.key),
            Some(json!({"name": "hooli"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("org_full_required"))
    );
    let (s, v, _) = app
        .api(
            "POST",
            M,
            "/api/v1/customers",
            Some(&boss.key),
            Some(json!({"name": "hooli", "display_name": "Hooli", "clone_from": "template-acme"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "hooli-acme");
    let (s, v, _) = app
        .api(
            "POST",
            M,
            "/api/v1/customers",
            Some(&boss.key),
            Some(json!({"name": "x", "clone_from": "nosuch-acme"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_template"))
    );

    // What carried over: networks (new ids), tags, port privileges, mappings re-pointed, settings.
    let nets = app.core.list_networks("hooli-acme").await.expect("nets");
    assert_eq!(nets.len(), 1);
    assert_ne!(nets[0].id, hq.id);
    assert_eq!(nets[0].tags, vec!["branch".to_string(), "hq".to_string()]);
    let (_, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/hooli-acme/role-mappings",
            Some(&boss.key),
            None,
        )
        .await;
    let grant = v["items"][0]["bundle"]["grants"][0]["target"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(grant, format!("network:{}", nets[0].id), "{v}");
    let (_, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/hooli-acme/settings",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(v["require_approval"], true);
    assert_eq!(v["display_name"], "Hooli");
    // ...and what did not: no admins of the template.
    let (_, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/customers/hooli-acme",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(v["admins"], 0);

    let (s, _, _) = app
        .api(
            "DELETE",
            M,
            "/api/v1/customers/hooli-acme",
            Some(&staff.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .api(
            "DELETE",
            M,
            "/api/v1/customers/hooli-acme",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = app
        .api(
            "GET",
            M,
            "/api/v1/customers/hooli-acme",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
