//! The admin API: authentication, networks, admins and every rule of privileges.md
//! "Rules for managing admins", through the real router.

use crate::support::{test_app, Admin, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};
use tenantry::core::audit::Actor;

const G: &str = "globex-acme.localhost:8080";

fn net(id: &str, access: NetworkAccess) -> Grant {
    Grant {
        target: Target::Network(id.to_string()),
        access,
    }
}

/// MSP acme, customer globex with networks hq (tag hq) and two branches (tag branch), an
/// org-full admin with a key.
struct World {
    app: TestApp,
    full: Admin,
    hq: String,
    east: String,
    west: String,
}

async fn world() -> World {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    let mk = |name: &'static str, tags: Vec<String>| {
        let core = app.core.clone();
        async move {
            core.create_network("globex-acme", name, &tags, &Actor::cli())
                .await
                .expect("network")
                .id
        }
    };
    let hq = mk("HQ", vec!["hq".into()]).await;
    let east = mk("East", vec!["branch".into()]).await;
    let west = mk("West", vec!["branch".into()]).await;
    let full = app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    World {
        app,
        full,
        hq,
        east,
        west,
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn credentials_are_required_and_bound_to_their_tenant() {
    let w = world().await;
    let (s, v, h) = w.app.api("GET", G, "/api/v1/me", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&v), "missing_credentials");
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap_or("")
        .starts_with("Bearer"));
    let (s, v, _) = w
        .app
        .api("GET", G, "/api/v1/me", Some("tnt_ak_nope"), None)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "invalid_token"));
    // A valid key of another tenant is not valid here.
    app_customer(&w.app, "initech").await;
    let other = w
        .app
        .admin(
            "initech-acme",
            "x@initech.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let (s, _, _) = w
        .app
        .api("GET", G, "/api/v1/me", Some(&other.key), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v, _) = w
        .app
        .api("GET", G, "/api/v1/me", Some(&w.full.key), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["email"], "owner@globex.example");
    // The API does not exist on the bare host or an unknown one.
    let (s, _, _) = w
        .app
        .api(
            "GET",
            "localhost:8080",
            "/api/v1/me",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn app_customer(app: &TestApp, name: &str) {
    app.customer(name, "acme", name).await;
}

#[tokio::test]
async fn networks_follow_visibility_and_rule_1() {
    let w = world().await;
    let branch_admin = w
        .app
        .admin(
            "globex-acme",
            "branch@globex.example",
            Some(OrgAccess::None),
            vec![Grant {
                target: Target::Tag("branch".into()),
                access: NetworkAccess::ReadOnly,
            }],
        )
        .await;
    let (s, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/networks",
            Some(&branch_admin.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, vec!["East", "West"], "HQ is hidden");
    let hidden = format!("/api/v1/orgs/globex-acme/networks/{}", w.hq);
    let (s, v, _) = w
        .app
        .api("GET", G, &hidden, Some(&branch_admin.key), None)
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "hidden, not forbidden"
    );
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/networks",
            Some(&branch_admin.key),
            Some(json!({"name": "North"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));

    // Org full creates; bad input changes nothing.
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/networks",
            Some(&w.full.key),
            Some(json!({"name": "North", "tags": ["Bad Tag"]})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_tag"));
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/networks",
            Some(&w.full.key),
            Some(json!({"name": "North", "tagz": []})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "unknown_field"));
    let (s, v, h) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/networks",
            Some(&w.full.key),
            Some(json!({"name": "North", "tags": ["branch"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(h.contains_key("etag"));
    let north = v["id"].as_str().expect("id").to_string();
    // The branch admin now sees it through the tag.
    let (s, _, _) = w
        .app
        .api(
            "GET",
            G,
            &format!("/api/v1/orgs/globex-acme/networks/{north}"),
            Some(&branch_admin.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/networks",
            Some(&w.full.key),
            Some(json!({"name": "North"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "name_taken"));

    // Tags: org full only; a stale If-Match is refused.
    let path = format!("/api/v1/orgs/globex-acme/networks/{}", w.east);
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            G,
            &path,
            Some(&branch_admin.key),
            Some(json!({"tags": []})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    let (_, _, h) = w.app.api("GET", G, &path, Some(&w.full.key), None).await;
    let etag = h["etag"].to_str().expect("etag").to_string();
    let (s, v, _) = w
        .app
        .api_with(
            "PATCH",
            G,
            &path,
            Some(&w.full.key),
            Some(json!({"tags": ["branch", "east"]})),
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::PRECONDITION_FAILED, "precondition_failed")
    );
    let (s, v, _) = w
        .app
        .api_with(
            "PATCH",
            G,
            &path,
            Some(&w.full.key),
            Some(json!({"tags": ["branch", "east"]})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["tags"], json!(["branch", "east"]));

    // Port privileges: defined by org full, then grantable on that network only.
    let ports = format!("{path}/port-privileges");
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            &ports,
            Some(&w.full.key),
            Some(json!({"name": "lobby", "port_tags": ["lobby"], "packet_capture": true})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v, _) = w.app.api("POST", G, "/api/v1/orgs/globex-acme/admins", Some(&w.full.key), Some(json!({"email": "p@globex.example", "grants": [{"target": format!("network:{}", w.west), "access": "port:lobby"}]}))).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "unknown_port_privilege"),
        "{v}"
    );
    let (s, v, _) = w.app.api("POST", G, "/api/v1/orgs/globex-acme/admins", Some(&w.full.key), Some(json!({"email": "p@globex.example", "grants": [{"target": format!("network:{}", w.east), "access": "port:lobby"}]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let (s, _, _) = w
        .app
        .api("DELETE", G, &path, Some(&branch_admin.key), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = w.app.api("DELETE", G, &path, Some(&w.full.key), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = w.app.api("GET", G, &path, Some(&w.full.key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_tenants_objects_answer_not_found() {
    let w = world().await;
    app_customer(&w.app, "initech").await;
    let theirs = w
        .app
        .core
        .create_network("initech-acme", "Theirs", &[], &Actor::cli())
        .await
        .expect("network")
        .id;
    for path in [
        format!("/api/v1/orgs/globex-acme/networks/{theirs}"),
        "/api/v1/orgs/initech-acme/networks".to_string(),
        "/api/v1/orgs/acme/networks".to_string(),
        "/api/v1/orgs/nosuch/admins".to_string(),
    ] {
        let (s, v, _) = w.app.api("GET", G, &path, Some(&w.full.key), None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    // A grant to another tenant's network is refused and creates nothing.
    let (s, v, _) = w.app.api("POST", G, "/api/v1/orgs/globex-acme/admins", Some(&w.full.key), Some(json!({"email": "n@globex.example", "grants": [{"target": format!("network:{theirs}"), "access": "full"}]}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "unknown_network"));
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?q=n@globex",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn admins_are_created_listed_filtered_and_rule_7_holds() {
    let w = world().await;
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/admins",
            Some(&w.full.key),
            Some(
                json!({"email": "ro@globex.example", "name": "Reader", "org_access": "read-only"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["id"].as_str().unwrap_or("").starts_with("adm_"));
    assert_eq!(v["status"], "pending");
    assert_eq!(v["designations"], json!(["org"]));
    assert!(v["enrolment_url"]
        .as_str()
        .unwrap_or("")
        .starts_with("http://globex-acme.localhost:8080/enroll/tnt_enr_"));
    let reader = v["id"].as_str().expect("id").to_string();

    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/admins",
            Some(&w.full.key),
            Some(json!({"email": "RO@globex.example", "org_access": "full"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "email_in_use"));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("existing account"));
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/admins",
            Some(&w.full.key),
            Some(json!({"email": "x@globex.example", "org_access": "owner"})),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_json"),
        "unknown access names are refused"
    );
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/admins",
            Some(&w.full.key),
            Some(json!({"email": "x@globex.example"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "no_access"));

    // Search, filters, pagination; MSP super-users appear with their designation.
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?q=reader",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(v["items"][0]["id"], reader.as_str());
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?designation=msp",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(v["items"][0]["email"], "boss@acme.example");
    assert_eq!(v["items"][0]["msp"]["role"], "super-user");
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?access=full",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(
        v["items"].as_array().map(Vec::len),
        Some(2),
        "owner and the MSP super-user: {v}"
    );
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?limit=1",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    let cursor = v["next_cursor"].as_str().expect("more").to_string();
    let (_, v2, _) = w
        .app
        .api(
            "GET",
            G,
            &format!("/api/v1/orgs/globex-acme/admins?limit=1&cursor={cursor}"),
            Some(&w.full.key),
            None,
        )
        .await;
    assert_ne!(v["items"][0]["id"], v2["items"][0]["id"]);
    let (s, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?limit=501",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_limit"));

    // Rule 2: org read-only lists but changes nothing.
    let ro_user = w.app.core.find_tenant("globex-acme").await.expect("t");
    let _ = ro_user;
}

#[tokio::test]
async fn rule_1_and_5_grantors_stay_within_their_own_privileges() {
    let w = world().await;
    let netadmin = w
        .app
        .admin(
            "globex-acme",
            "net@globex.example",
            Some(OrgAccess::None),
            vec![
                net(&w.east, NetworkAccess::Full),
                net(&w.west, NetworkAccess::ReadOnly),
            ],
        )
        .await;
    let post = |body: Value| {
        let app = &w.app;
        let key = netadmin.key.clone();
        async move {
            app.api(
                "POST",
                G,
                "/api/v1/orgs/globex-acme/admins",
                Some(&key),
                Some(body),
            )
            .await
        }
    };
    // Full on East: may grant there.
    let (s, v, _) = post(json!({"email": "a@globex.example", "grants": [{"target": format!("network:{}", w.east), "access": "full"}]})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Read-only on West: may not grant there.
    let (s, v, _) = post(json!({"email": "b@globex.example", "grants": [{"target": format!("network:{}", w.west), "access": "monitor-only"}]})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "network_full_required")
    );
    // HQ is hidden from them: as if it did not exist.
    let (s, v, _) = post(json!({"email": "b@globex.example", "grants": [{"target": format!("network:{}", w.hq), "access": "monitor-only"}]})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "unknown_network"));
    // Tag grants and org access: org full only.
    let (s, v, _) = post(json!({"email": "b@globex.example", "grants": [{"target": "tag:branch", "access": "monitor-only"}]})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    let (s, v, _) = post(json!({"email": "b@globex.example", "org_access": "read-only"})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    // `all` is never accepted from the API.
    let (s, v, _) = w.app.api("POST", G, "/api/v1/orgs/globex-acme/admins", Some(&w.full.key), Some(json!({"email": "c@globex.example", "grants": [{"target": "all", "access": "full"}]}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // Nothing was created by the refusals.
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?q=b@globex",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn rule_3_no_access_left_removes_the_admin() {
    let w = world().await;
    let a = w
        .app
        .admin(
            "globex-acme",
            "gone@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![net(&w.east, NetworkAccess::MonitorOnly)],
        )
        .await;
    let path = format!("/api/v1/orgs/globex-acme/admins/{}", a.id);
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            G,
            &path,
            Some(&w.full.key),
            Some(json!({"org_access": "none"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["org_access"], "none");
    assert_eq!(v["grants"].as_array().map(Vec::len), Some(1));
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            G,
            &path,
            Some(&w.full.key),
            Some(json!({"grants": []})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["removed"], true);
    let (s, _, _) = w.app.api("GET", G, &path, Some(&w.full.key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Their API key went with them.
    let (s, _, _) = w.app.api("GET", G, "/api/v1/me", Some(&a.key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rule_4_the_last_full_admin_stays_even_under_concurrency() {
    let w = world().await;
    let path = format!("/api/v1/orgs/globex-acme/admins/{}", w.full.id);
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            G,
            &path,
            Some(&w.full.key),
            Some(json!({"org_access": "read-only"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "last_full_admin"));
    let (s, v, _) = w.app.api("DELETE", G, &path, Some(&w.full.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "last_full_admin"));
    // MSP super-users do not count: the MSP's boss cannot demote the last one either.
    let msp = w.app.core.find_tenant("acme").await.expect("acme");
    let boss = {
        let mut conn = w.app.core.store.conn().await.expect("conn");
        tenantry::store::users::find_user_by_email(&mut conn, &msp.id, "boss@acme.example")
            .await
            .expect("q")
            .expect("boss")
    };
    let boss = w.app.key_for("acme", &boss.id, &boss.id).await;
    // The MSP's super-user reaches the customer from the MSP host, and rule 4 binds it too.
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            "acme.localhost:8080",
            &path,
            Some(&boss.key),
            Some(json!({"org_access": "none"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "last_full_admin"));

    // Two full admins, two concurrent demotions: exactly one succeeds.
    let second = w
        .app
        .admin(
            "globex-acme",
            "second@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let p1 = path.clone();
    let p2 = format!("/api/v1/orgs/globex-acme/admins/{}", second.id);
    let (a, b) = tokio::join!(
        w.app.api(
            "PATCH",
            G,
            &p1,
            Some(&second.key),
            Some(json!({"org_access": "read-only"}))
        ),
        w.app.api(
            "PATCH",
            G,
            &p2,
            Some(&w.full.key),
            Some(json!({"org_access": "read-only"}))
        ),
    );
    let statuses = [a.0, b.0];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(
        statuses.contains(&StatusCode::CONFLICT) || statuses.contains(&StatusCode::FORBIDDEN),
        "{a:?} {b:?}"
    );
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?access=full&designation=org",
            Some(&w.full.key),
            None,
        )
        .await;
    let _ = v;
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let mut conn = w.app.core.store.conn().await.expect("conn");
    let n = tenantry::store::users::count_full_admins(&mut conn, &t.id, i64::MAX / 2)
        .await
        .expect("count");
    assert_eq!(n, 1, "exactly one own-account org-full admin is left");
}

#[tokio::test]
async fn rule_6_unlock_needs_equal_or_greater_privileges() {
    let w = world().await;
    let org_admin = w
        .app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let east_full = w
        .app
        .admin(
            "globex-acme",
            "east@globex.example",
            Some(OrgAccess::None),
            vec![net(&w.east, NetworkAccess::Full)],
        )
        .await;
    let east_ro = w
        .app
        .admin(
            "globex-acme",
            "eastro@globex.example",
            Some(OrgAccess::None),
            vec![net(&w.east, NetworkAccess::ReadOnly)],
        )
        .await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let until = crate::support::T0 + 900;
    for a in [&org_admin, &east_ro] {
        w.app
            .core
            .lock_admin(&t, &a.user_id, until)
            .await
            .expect("lock");
    }
    let unlock = |who: &Admin, target: &Admin| {
        let app = &w.app;
        let key = who.key.clone();
        let path = format!("/api/v1/orgs/globex-acme/admins/{}/unlock", target.id);
        async move { app.api("POST", G, &path, Some(&key), None).await }
    };
    // A network-only admin never unlocks an org admin...
    let (s, v, _) = unlock(&east_full, &org_admin).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "unlock_not_allowed"),
        "{v}"
    );
    // ...but unlocks an admin whose privileges lie on its full networks.
    let (s, v, _) = unlock(&east_full, &east_ro).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "pending");
    let (s, v, _) = unlock(&east_full, &east_ro).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "not_locked"));
    // Org full unlocks anyone.
    let (s, _, _) = unlock(&w.full, &org_admin).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn rule_8_resend_only_for_admins_not_yet_enrolled() {
    let w = world().await;
    let ro = w
        .app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let path = format!(
        "/api/v1/orgs/globex-acme/admins/{}/resend-enrolment",
        w.full.id
    );
    let (s, v, _) = w.app.api("POST", G, &path, Some(&ro.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    let (s, first, _) = w.app.api("POST", G, &path, Some(&w.full.key), None).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let (_, second, _) = w.app.api("POST", G, &path, Some(&w.full.key), None).await;
    let token = |v: &Value| {
        v["enrolment_url"]
            .as_str()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string()
    };
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    assert!(
        w.app
            .core
            .enrolment_user(&t, &token(&first))
            .await
            .expect("q")
            .is_none(),
        "resending invalidates the previous link"
    );
    assert!(w
        .app
        .core
        .enrolment_user(&t, &token(&second))
        .await
        .expect("q")
        .is_some());
    sqlx::query("UPDATE admin_memberships SET enrolment = 'enrolled' WHERE id = $1")
        .bind(&w.full.id)
        .execute(w.app.core.store.pool())
        .await
        .expect("enrol");
    let (s, v, _) = w.app.api("POST", G, &path, Some(&w.full.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_enrolled"));
}

#[tokio::test]
async fn msp_super_users_own_customers_created_after_them() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let boss_admin = acme.admin.expect("boss");
    let boss = app
        .key_for("acme", &boss_admin.user_id, &boss_admin.membership_id)
        .await;
    let staff = app
        .admin(
            "acme",
            "tech@acme.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    app.customer("later", "acme", "Created later").await;
    let m = "acme.localhost:8080";
    let (s, v, _) = app
        .api(
            "GET",
            m,
            "/api/v1/orgs/later-acme/networks",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v, _) = app
        .api(
            "POST",
            m,
            "/api/v1/orgs/later-acme/networks",
            Some(&boss.key),
            Some(json!({"name": "Core"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v, _) = app
        .api(
            "GET",
            m,
            "/api/v1/me/privileges?org=later-acme",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(v["org_access"], "full");
    assert_eq!(v["msp"]["role"], "super-user");
    // Staff without a role or delegation reach nothing there.
    let (s, _, _) = app
        .api(
            "GET",
            m,
            "/api/v1/orgs/later-acme/networks",
            Some(&staff.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The customer's log shows the MSP user and MSP behind the action.
    let (_, v, _) = app
        .api(
            "GET",
            m,
            "/api/v1/orgs/later-acme/audit?msp_only=true",
            Some(&boss.key),
            None,
        )
        .await;
    let entry = &v["items"][0];
    assert_eq!(entry["action"], "network.create", "{v}");
    assert_eq!(entry["actor_msp"], "acme");
    assert_eq!(entry["actor_msp_user"], "boss@acme.example");
    // A customer host never names another org, even its MSP.
    let (s, _, _) = app
        .api(
            "GET",
            "later-acme.localhost",
            "/api/v1/orgs/acme/networks",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "an MSP key is not valid on the customer host"
    );
}

#[tokio::test]
async fn explain_and_who_can_name_the_sources() {
    let w = world().await;
    let a = w
        .app
        .admin(
            "globex-acme",
            "branch@globex.example",
            Some(OrgAccess::None),
            vec![Grant {
                target: Target::Tag("branch".into()),
                access: NetworkAccess::Full,
            }],
        )
        .await;
    let q = format!(
        "/api/v1/orgs/globex-acme/explain?admin={}&network={}&capability=network.config.edit",
        a.id, w.east
    );
    let (s, v, _) = w.app.api("GET", G, &q, Some(&w.full.key), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["held"], true);
    assert_eq!(v["reasons"][0]["grant"], "tag:branch=full");
    assert_eq!(v["reasons"][0]["source"]["kind"], "own");
    let q = format!(
        "/api/v1/orgs/globex-acme/explain?admin={}&network={}&capability=network.view",
        a.id, w.hq
    );
    let (_, v, _) = w.app.api("GET", G, &q, Some(&w.full.key), None).await;
    assert_eq!(v["held"], false);
    let (s, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/explain?admin=x&capability=fly",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_capability")
    );

    let q = format!(
        "/api/v1/orgs/globex-acme/who-can?capability=network.config.edit&network={}",
        w.east
    );
    let (s, v, _) = w.app.api("GET", G, &q, Some(&w.full.key), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let emails: Vec<&str> = v["admins"]
        .as_array()
        .expect("admins")
        .iter()
        .filter_map(|h| h["email"].as_str())
        .collect();
    assert!(
        emails.contains(&"branch@globex.example")
            && emails.contains(&"owner@globex.example")
            && emails.contains(&"boss@acme.example"),
        "{emails:?}"
    );
    let q = format!(
        "/api/v1/orgs/globex-acme/who-can?capability=network.config.edit&network={}",
        w.hq
    );
    let (_, v, _) = w.app.api("GET", G, &q, Some(&w.full.key), None).await;
    assert!(!v.to_string().contains("branch@globex.example"));
}

#[tokio::test]
async fn every_change_is_audited_with_the_request_id_and_verifies() {
    let w = world().await;
    let (s, _, _) = w
        .app
        .api_with(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/admins",
            Some(&w.full.key),
            Some(json!({"email": "new@globex.example", "org_access": "read-only"})),
            &[("x-request-id", "req-abc-1")],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/audit?limit=1",
            Some(&w.full.key),
            None,
        )
        .await;
    let e = &v["items"][0];
    assert_eq!(e["action"], "admin.add");
    assert_eq!(e["actor"], w.full.user_id.as_str());
    assert_eq!(e["request_id"], "req-abc-1");
    assert_eq!(e["after"]["org_access"], "read-only");
    let (s, v, _) = w
        .app
        .api("GET", G, "/api/v1/audit/verify", Some(&w.full.key), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["intact"], true, "{v}");
}

#[tokio::test]
async fn audit_verification_catches_edits_and_truncation_after_a_checkpoint() {
    let w = world().await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    // Enough entries for a checkpoint at 100, and a few after it.
    for i in 0..50 {
        w.app
            .core
            .create_network("globex-acme", &format!("n{i}"), &[], &Actor::cli())
            .await
            .expect("net");
    }
    let mut conn = w.app.core.store.conn().await.expect("conn");
    let head = tenantry::store::audit::head(&mut conn, &t.id)
        .await
        .expect("head")
        .expect("some")
        .0;
    assert!(head > 50);
    for i in 50..(105 - head + 50) {
        drop(conn);
        w.app
            .core
            .create_network("globex-acme", &format!("n{i}"), &[], &Actor::cli())
            .await
            .expect("net");
        conn = w.app.core.store.conn().await.expect("conn");
    }
    let cps = tenantry::store::audit::checkpoints(&mut conn, &t.id)
        .await
        .expect("cps");
    assert!(cps.iter().any(|c| c.seq == 100), "a checkpoint at 100");
    let ok = tenantry::core::audit::verify(&mut conn, &t.id)
        .await
        .expect("verify");
    assert!(ok.intact, "{ok:?}");

    // Truncation: delete the newest rows after the checkpoint, and fix up the head too.
    sqlx::query("DELETE FROM audit_log WHERE tenant_id = $1 AND seq > 102")
        .bind(t.id.as_str())
        .execute(&mut *conn)
        .await
        .expect("delete");
    let broken = tenantry::core::audit::verify(&mut conn, &t.id)
        .await
        .expect("verify");
    assert!(!broken.intact);
    assert_eq!(broken.first_broken_seq, Some(103), "{broken:?}");
    // Deleting back past the checkpoint is caught by the checkpoint itself.
    sqlx::query("DELETE FROM audit_log WHERE tenant_id = $1 AND seq > 90")
        .bind(t.id.as_str())
        .execute(&mut *conn)
        .await
        .expect("delete");
    sqlx::query("UPDATE audit_heads SET seq = 90, hash = (SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = 90) WHERE tenant_id = $1")
        .bind(t.id.as_str())
        .execute(&mut *conn)
        .await
        .expect("forge head");
    let broken = tenantry::core::audit::verify(&mut conn, &t.id)
        .await
        .expect("verify");
    assert_eq!(broken.first_broken_seq, Some(91), "{broken:?}");
    // An edited row breaks at that row.
    sqlx::query("UPDATE audit_log SET target = 'network:forged' WHERE tenant_id = $1 AND seq = 7")
        .bind(t.id.as_str())
        .execute(&mut *conn)
        .await
        .expect("edit");
    let broken = tenantry::core::audit::verify(&mut conn, &t.id)
        .await
        .expect("verify");
    assert_eq!(broken.first_broken_seq, Some(7));
}

#[tokio::test]
async fn idempotency_keys_make_retried_creates_safe() {
    let w = world().await;
    let post = |path: &'static str, body: Value, key: &'static str| {
        let app = &w.app;
        let api_key = w.full.key.clone();
        async move {
            app.api_with(
                "POST",
                G,
                path,
                Some(&api_key),
                Some(body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let (s1, v1, _) = post(
        "/api/v1/orgs/globex-acme/networks",
        json!({"name": "Once"}),
        "k-1",
    )
    .await;
    let (s2, v2, h2) = post(
        "/api/v1/orgs/globex-acme/networks",
        json!({"name": "Once"}),
        "k-1",
    )
    .await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED), "{v2}");
    assert_eq!(v1["id"], v2["id"]);
    assert_eq!(h2["idempotent-replayed"], "true");
    let (_, list, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/networks?q=once",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // A response that showed a secret is not replayed.
    let (s, created, _) = post(
        "/api/v1/orgs/globex-acme/admins",
        json!({"email": "i@globex.example", "org_access": "read-only"}),
        "k-2",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v, _) = post(
        "/api/v1/orgs/globex-acme/admins",
        json!({"email": "i@globex.example", "org_access": "read-only"}),
        "k-2",
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "idempotent_replay"));
    assert_eq!(v["error"]["details"]["id"], created["id"]);
    assert!(!v.to_string().contains("tnt_enr_"));

    // One key, another request.
    let (s, v, _) = post(
        "/api/v1/orgs/globex-acme/admins",
        json!({"email": "j@globex.example", "org_access": "read-only"}),
        "k-1",
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "idempotency_key_reused")
    );

    // The query is part of the request: one key for two rotations of different kinds
    // refuses the second instead of replaying the first.
    let (s, jwt, _) = post(
        "/api/v1/orgs/globex-acme/keys/rotate?kind=jwt",
        json!({}),
        "k-3",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{jwt}");
    let (s, v, _) = post(
        "/api/v1/orgs/globex-acme/keys/rotate?kind=saml",
        json!({}),
        "k-3",
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "idempotency_key_reused"),
        "{v}"
    );
    let (s, again, h) = post(
        "/api/v1/orgs/globex-acme/keys/rotate?kind=jwt",
        json!({}),
        "k-3",
    )
    .await;
    assert_eq!((s, &again), (StatusCode::OK, &jwt));
    assert_eq!(h["idempotent-replayed"], "true");
}

#[tokio::test]
async fn settings_merge_validate_and_keep_approval_with_the_customer() {
    let w = world().await;
    let path = "/api/v1/orgs/globex-acme/settings";
    let (s, v, h) = w.app.api("GET", G, path, Some(&w.full.key), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["require_approval"], false);
    assert_eq!(v["login"]["lockout_threshold"], 5);
    assert!(h.contains_key("etag"));
    let (s, v, _) = w.app.api("PATCH", G, path, Some(&w.full.key), Some(json!({"require_approval": true, "login": {"lockout_minutes": 30}, "branding": {"primary_color": "#112233"}, "display_name": "Globex Corp"}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["require_approval"], true);
    assert_eq!(v["login"]["lockout_minutes"], 30);
    assert_eq!(
        v["login"]["lockout_threshold"], 5,
        "merge keeps what was not named"
    );
    assert_eq!(v["display_name"], "Globex Corp");
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            G,
            path,
            Some(&w.full.key),
            Some(json!({"login": {"lockout_threshold": 0}})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_setting"));
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            G,
            path,
            Some(&w.full.key),
            Some(json!({"login": {"lockout_treshold": 3}})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "unknown_field"));
    let (_, v, _) = w.app.api("GET", G, path, Some(&w.full.key), None).await;
    assert_eq!(
        v["login"]["lockout_minutes"], 30,
        "refusals changed nothing"
    );

    // The MSP's super-user holds org full here but does not decide approval.
    let msp = w.app.core.find_tenant("acme").await.expect("acme");
    let boss = {
        let mut conn = w.app.core.store.conn().await.expect("conn");
        tenantry::store::users::find_user_by_email(&mut conn, &msp.id, "boss@acme.example")
            .await
            .expect("q")
            .expect("boss")
    };
    let boss = w.app.key_for("acme", &boss.id, &boss.id).await;
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            "acme.localhost:8080",
            path,
            Some(&boss.key),
            Some(json!({"require_approval": false})),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "customer_admin_required")
    );
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            "acme.localhost:8080",
            path,
            Some(&boss.key),
            Some(json!({"branding": {"support_contact": "noc@acme.example"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ro = w
        .app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let (s, v, _) = w
        .app
        .api(
            "PATCH",
            G,
            path,
            Some(&ro.key),
            Some(json!({"branding": {"support_contact": "x"}})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
}
