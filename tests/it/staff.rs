//! MSP staff on the MSP host (`/api/v1/staff`) and offboarding, through the API and the
//! CLI: roles and scopes, who may change them, and that offboarding revokes every
//! delegation, key and role, audited in every customer.

#[path = "staff_cli.rs"]
mod cli;

use crate::delegations::{audit, code, delegate, reach, staff, world, G, I, M};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;

const STAFF: &str = "/api/v1/staff";

#[tokio::test]
async fn staff_are_created_listed_and_changed_by_super_users_only() {
    let w = world().await;
    let app = &w.app;
    let boss = &w.boss.key;

    let (s, v, _) = app.api("GET", M, STAFF, Some(boss), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let emails: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|x| x["email"].as_str())
        .collect();
    assert_eq!(emails, vec!["boss@acme.example", "tech@acme.example"]);
    assert_eq!(v["items"][0]["role"], "super-user");
    assert_eq!(v["items"][0]["scope"], "all");
    assert_eq!(
        v["items"][1]["role"],
        Value::Null,
        "a technician has no MSP role"
    );

    // A scoped observer, with an enrolment link shown once.
    let (s, v, h) = app
        .api("POST", M, STAFF, Some(boss), Some(json!({"email": "Olga@acme.example", "name": "Olga", "role": "observer", "scope": ["globex"]})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(h.contains_key("etag"));
    assert_eq!(v["role"], "observer");
    assert_eq!(v["scope"], json!(["globex-acme"]));
    assert_eq!(v["name"], "Olga");
    assert!(v["enrolment_url"]
        .as_str()
        .unwrap_or("")
        .starts_with("http://acme.localhost:8080/enroll/tnt_enr_"));
    let olga_id = v["id"].as_str().expect("id").to_string();
    let olga = app.key_for("acme", &olga_id, &olga_id).await;
    assert_eq!(
        reach(app, &olga.key, "globex-acme").await.1["org_access"],
        "read-only"
    );
    assert_eq!(
        reach(app, &olga.key, "initech-acme").await.0,
        StatusCode::NOT_FOUND
    );
    // The customer sees the MSP role among its admins, never the technician; the role's
    // arrival is in its log.
    let (_, v, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/admins?designation=msp",
            Some(&w.owner.key),
            None,
        )
        .await;
    let emails: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|x| x["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        vec!["Olga@acme.example", "boss@acme.example"],
        "{v}"
    );
    let log = audit(app, G, "globex-acme", &w.owner.key).await;
    assert_eq!(log[0]["action"], "msp_staff.add");
    assert_eq!(log[0]["after"]["role"], "observer");
    assert_eq!(log[0]["actor_msp"], "acme");
    assert!(audit(app, I, "initech-acme", &w.initech_owner.key)
        .await
        .iter()
        .all(|e| e["action"] != "msp_staff.add"));

    // Refusals, none of which changes anything.
    let before = app.api("GET", M, STAFF, Some(boss), None).await.1;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"email": "olga@ACME.example", "role": "observer", "scope": "all"}),
            StatusCode::CONFLICT,
            "email_in_use",
        ),
        (
            json!({"email": "boss@acme.example"}),
            StatusCode::CONFLICT,
            "email_in_use",
        ),
        (
            json!({"email": "x@acme.example", "role": "observer", "scope": ["nope"]}),
            StatusCode::BAD_REQUEST,
            "unknown_customer",
        ),
        (
            json!({"email": "x@acme.example", "role": "observer", "scope": ["umbrella"]}),
            StatusCode::BAD_REQUEST,
            "unknown_customer",
        ),
        (
            json!({"email": "x@acme.example", "role": "observer", "scope": "some"}),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            json!({"email": "x@acme.example", "role": "observer"}),
            StatusCode::BAD_REQUEST,
            "scope_required",
        ),
        (
            json!({"email": "x@acme.example", "role": "owner", "scope": "all"}),
            StatusCode::BAD_REQUEST,
            "invalid_role",
        ),
        (
            json!({"email": "x@acme.example", "role": "super-user", "scope": ["globex"]}),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            json!({"email": "x@acme.example", "scope": ["globex"]}),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            json!({"email": "not an email"}),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            json!({"email": "x@acme.example", "rol": "observer"}),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
    ];
    for (body, status, expected) in cases {
        let (s, v, _) = app
            .api("POST", M, STAFF, Some(boss), Some(body.clone()))
            .await;
        assert_eq!((s, code(&v)), (status, expected), "{body}: {v}");
    }
    assert_eq!(app.api("GET", M, STAFF, Some(boss), None).await.1, before);

    // MSP read-only admins list staff but change nothing; a technician sees nothing; a
    // customer host has no staff.
    let reader = app
        .admin(
            "acme",
            "reader@acme.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let (s, _, _) = app.api("GET", M, STAFF, Some(&reader.key), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = app
        .api(
            "POST",
            M,
            STAFF,
            Some(&reader.key),
            Some(json!({"email": "y@acme.example"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    let olga_path = format!("{STAFF}/{olga_id}");
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &olga_path,
            Some(&reader.key),
            Some(json!({"scope": "all"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    let (s, v, _) = app
        .api("DELETE", M, &olga_path, Some(&reader.key), None)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    let (s, v, _) = app.api("GET", M, STAFF, Some(&w.tech.key), None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "insufficient_privileges")
    );
    let (s, _, _) = app.api("GET", G, STAFF, Some(&w.owner.key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .api(
            "POST",
            G,
            STAFF,
            Some(&w.owner.key),
            Some(json!({"email": "z@globex.example"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .api("GET", M, &format!("{STAFF}/usr_nope"), Some(boss), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // PATCH: widen the scope; change the role; If-Match honoured; nobody changes themselves.
    let (_, _, h) = app.api("GET", M, &olga_path, Some(boss), None).await;
    let etag = h["etag"].to_str().expect("etag").to_string();
    let (s, _, _) = app
        .api_with(
            "PATCH",
            M,
            &olga_path,
            Some(boss),
            Some(json!({"scope": "all"})),
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, v, _) = app
        .api_with(
            "PATCH",
            M,
            &olga_path,
            Some(boss),
            Some(json!({"scope": "all"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["scope"], "all");
    assert_eq!(
        reach(app, &olga.key, "initech-acme").await.1["org_access"],
        "read-only"
    );
    let log = audit(app, I, "initech-acme", &w.initech_owner.key).await;
    assert_eq!(log[0]["action"], "msp_staff.update");
    assert_eq!(
        (
            log[0]["before"]["role"].clone(),
            log[0]["after"]["role"].clone()
        ),
        (Value::Null, json!("observer"))
    );
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &olga_path,
            Some(boss),
            Some(json!({"role": "network-admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["role"].clone(), v["scope"].clone()),
        (json!("network-admin"), json!("all"))
    );
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &olga_path,
            Some(boss),
            Some(json!({"role": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["role"], Value::Null);
    assert_eq!(
        reach(app, &olga.key, "globex-acme").await.0,
        StatusCode::NOT_FOUND,
        "a technician reaches nothing by role"
    );
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &olga_path,
            Some(boss),
            Some(json!({"role": "helpdesk"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "scope_required"));
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &olga_path,
            Some(boss),
            Some(json!({"role": "installer", "scope": ["initech-acme"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["scope"], json!(["initech-acme"]));
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &olga_path,
            Some(boss),
            Some(json!({"color": "red"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "unknown_field"));
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &format!("{STAFF}/{}", w.boss.user_id),
            Some(boss),
            Some(json!({"role": "observer", "scope": "all"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "cannot_change_self"));
    let log = audit(app, M, "acme", boss).await;
    assert_eq!(log[0]["action"], "staff.update");

    // Promoting a delegated technician to super-user ends the delegation (rule 9).
    let (s, _) = delegate(
        app,
        M,
        "globex-acme",
        boss,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v, _) = app
        .api(
            "PATCH",
            M,
            &format!("{STAFF}/{}", w.tech.user_id),
            Some(boss),
            Some(json!({"role": "super-user"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/delegations",
            Some(&w.owner.key),
            None,
        )
        .await;
    assert_eq!(v["items"][0]["state"], "revoked");
    assert_eq!(
        reach(app, &w.tech.key, "globex-acme").await.1["msp"]["role"],
        "super-user"
    );
}

#[tokio::test]
async fn offboarding_revokes_everything_in_every_customer() {
    let w = world().await;
    let app = &w.app;
    let boss = &w.boss.key;
    let (s, _) = delegate(
        app,
        M,
        "globex-acme",
        boss,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = delegate(
        app,
        I,
        "initech-acme",
        &w.initech_owner.key,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // An untouched colleague, to show offboarding is about one user.
    let other = staff(app, &w.boss, "other@acme.example", Value::Null, None).await;
    let (s, _) = delegate(
        app,
        M,
        "globex-acme",
        boss,
        json!({"msp_user": "other@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        reach(app, &w.tech.key, "initech-acme").await.0,
        StatusCode::OK
    );
    // A second super-user does the offboarding.
    let second = staff(
        app,
        &w.boss,
        "second@acme.example",
        json!("super-user"),
        None,
    )
    .await;

    let path = format!("{STAFF}/{}", w.tech.user_id);
    let (s, v, _) = app.api("DELETE", M, &path, Some(&second.key), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["email"], "tech@acme.example");
    assert_eq!(v["role"], "technician");
    assert_eq!(v["api_keys_revoked"], 1);
    let mut customers: Vec<&str> = v["delegations_revoked"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["customer"].as_str())
        .collect();
    customers.sort();
    assert_eq!(customers, vec!["globex-acme", "initech-acme"]);

    // The key is gone, the delegations are revoked on both sides, the staff entry is gone.
    let (s, _, _) = app
        .api("GET", M, "/api/v1/me", Some(&w.tech.key), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = app.api("GET", M, &path, Some(boss), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for (host, org, key) in [
        (G, "globex-acme", &w.owner.key),
        (I, "initech-acme", &w.initech_owner.key),
    ] {
        let (_, v, _) = app
            .api(
                "GET",
                host,
                &format!("/api/v1/orgs/{org}/delegations?msp_user=tech@acme.example"),
                Some(key),
                None,
            )
            .await;
        let d = &v["items"][0];
        assert_eq!(d["state"], "revoked", "{org}: {v}");
        assert_eq!(d["revoked_by"]["id"], second.user_id.as_str());
        assert_eq!(d["revoked_by"]["msp"], "acme");
        let log = audit(app, host, org, key).await;
        let e = log
            .iter()
            .find(|e| e["action"] == "delegation.revoke")
            .expect("audited");
        assert_eq!(e["actor"], second.user_id.as_str());
        assert_eq!(e["actor_msp"], "acme");
        assert_eq!(e["actor_msp_user"], "second@acme.example");
    }
    let (_, v, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/delegations?msp_user=other@acme.example",
            Some(&w.owner.key),
            None,
        )
        .await;
    assert_eq!(
        v["items"][0]["state"], "approved",
        "a colleague keeps theirs"
    );
    assert_eq!(
        reach(app, &other.key, "globex-acme").await.0,
        StatusCode::OK
    );
    let log = audit(app, M, "acme", boss).await;
    assert_eq!(log[0]["action"], "staff.offboard");
    assert_eq!(log[0]["actor"], second.user_id.as_str());

    // Nobody offboards themselves; rule 4 keeps the MSP's last own-account full admin;
    // unknown ids are not found. None of these changes anything.
    let (s, v, _) = app
        .api(
            "DELETE",
            M,
            &format!("{STAFF}/{}", second.user_id),
            Some(&second.key),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "cannot_change_self"));
    let (s, v, _) = app
        .api(
            "DELETE",
            M,
            &format!("{STAFF}/{}", w.boss.user_id),
            Some(&second.key),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "last_full_admin"));
    let (s, _, _) = app.api("GET", M, "/api/v1/me", Some(boss), None).await;
    assert_eq!(s, StatusCode::OK, "the boss keeps their key");
    let (s, _, _) = app.api("DELETE", M, &path, Some(boss), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The same account can be re-hired; its old delegations stay revoked.
    let (s, v, _) = app
        .api(
            "POST",
            M,
            STAFF,
            Some(boss),
            Some(json!({"email": "tech@acme.example"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "email_in_use"));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains(&w.tech.user_id));
    let (s, v, _) = app
        .api("PATCH", M, &path, Some(boss), Some(json!({"role": null})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v, _) = app
        .api(
            "GET",
            M,
            "/api/v1/orgs/acme/delegations?msp_user=tech@acme.example&state=revoked",
            Some(boss),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2));
}
