//! `/portal/admins`: the list with its filters and MSP/Org marks, the add-admin form with
//! the rules' errors in place, what is hidden from whom, and the MSP banner after a switch.

use super::{
    assert_accessible, csrf, get, locked_admin, msp, network, post, row_of, rows, session, G, M,
    M_ORIGIN,
};
use crate::support::test_app;
use axum::http::StatusCode;
use serde_json::json;
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};

#[tokio::test]
async fn the_administrators_page_lists_filters_and_enforces_the_rules() {
    let app = test_app().await;
    let (boss, cookie) = msp(&app).await;
    let a = network(&app, "globex-acme", "Alpha", &["branch"]).await;
    let b = network(&app, "globex-acme", "Beta", &[]).await;
    // A network admin: full on Alpha, read-only on Beta, no org access.
    let netadmin = app
        .admin(
            "globex-acme",
            "net@globex.example",
            None,
            vec![
                Grant {
                    target: Target::Network(a.id.clone()),
                    access: NetworkAccess::Full,
                },
                Grant {
                    target: Target::Network(b.id.clone()),
                    access: NetworkAccess::ReadOnly,
                },
            ],
        )
        .await;
    let nc = session(&app, "globex-acme", &netadmin.user_id).await;
    let p = get(&app, G, "/portal/admins", &nc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("Administrators of Globex"));
    assert!(p
        .body
        .contains("<label for=\"grant-0\">Alpha (tags: branch)</label>"));
    let token = csrf(&p.body);

    // Rule 1: org access needs org full; rule 1 on a network: full there.
    let p = post(
        &app,
        G,
        "/portal/admins",
        &nc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("email", "new@globex.example"),
            ("org_access", "read-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.body.contains(
        "id=\"add-admin-error\" class=\"error\" role=\"alert\">error: only admins with org full access may give an admin org access"
    ));
    assert!(
        p.body.contains("value=\"new@globex.example\""),
        "typed e-mail kept"
    );
    let beta = format!("grant.{}", b.id);
    let p = post(
        &app,
        G,
        "/portal/admins",
        &nc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("email", "new@globex.example"),
            (&beta, "full"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.body.contains(&format!(
        "changing grants on network {} needs full access on it",
        b.id
    )));
    assert!(
        p.body.contains("<option value=\"full\" selected>"),
        "typed grant kept"
    );
    let p = post(
        &app,
        G,
        "/portal/admins",
        &nc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("email", "not-an-email"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("is not an e-mail address"));
    // Within one's own access it works.
    let alpha = format!("grant.{}", a.id);
    let p = post(
        &app,
        G,
        "/portal/admins",
        &nc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("email", "new@globex.example"),
            (&alpha, "read-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let back = p.location.expect("location");
    assert_eq!(
        back,
        "/portal/admins?org=globex-acme&added=new%40globex.example"
    );
    let p = get(&app, G, &back, &nc).await;
    assert!(p.body.contains("Added new@globex.example"));
    assert!(p.body.contains("<th scope=\"row\">new@globex.example</th>"));
    // Another org from a customer host: not found.
    assert_eq!(
        get(&app, G, "/portal/admins?org=initech-acme", &nc)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The MSP boss sees globex's admins from the MSP host, himself marked MSP; filters.
    let p = get(&app, M, "/portal/admins?org=globex-acme", &cookie).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    let row = |body: &str, email: &str| {
        body.split("<tr>")
            .find(|r| r.contains(&format!("<th scope=\"row\">{email}</th>")))
            .map(str::to_string)
    };
    let me = row(&p.body, "boss@acme.example").expect("boss listed");
    assert!(me.contains("<span class=\"tag\">MSP</span>"), "{me}");
    let a_row = row(&p.body, "a@globex.example").expect("a listed");
    assert!(a_row.contains("<span class=\"tag\">Org</span>") && a_row.contains("pending"));
    assert_eq!(rows(&p.body), 5, "a, b, net, new and the boss");
    let p = get(
        &app,
        M,
        "/portal/admins?org=globex-acme&designation=msp",
        &cookie,
    )
    .await;
    assert_eq!(rows(&p.body), 1);
    let p = get(&app, M, "/portal/admins?org=globex-acme&q=NET%40", &cookie).await;
    assert_eq!(rows(&p.body), 1);
    assert!(row(&p.body, "net@globex.example").is_some());
    let p = get(
        &app,
        M,
        "/portal/admins?org=globex-acme&access=full&status=pending",
        &cookie,
    )
    .await;
    assert_eq!(rows(&p.body), 2);
    let p = get(&app, M, "/portal/admins", &cookie).await;
    assert!(p.body.contains("<h1>Administrators of acme</h1>"));
    assert!(row(&p.body, "boss@acme.example").is_some());

    // Switched in from the MSP: the banner names the MSP user, the switcher leads back.
    let globex = app.core.find_tenant("globex-acme").await.expect("globex");
    let (_, acting) = app
        .core
        .create_session(
            &globex,
            "msp_boss",
            &["webauthn"],
            Some(json!({"iss": M_ORIGIN, "sub": boss})),
        )
        .await
        .expect("session");
    let p = get(&app, G, "/portal/admins", &acting).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body.contains(
            "<p id=\"msp-banner\" role=\"note\">MSP user boss@acme.example from MSP acme</p>"
        ),
        "{}",
        p.body
    );
    assert!(p.body.contains("<option value=\"acme\">"), "the way back");
    let s = get(&app, G, "/portal/switch?to=acme", &acting).await;
    assert_eq!(
        s.location.as_deref(),
        Some("http://acme.localhost:8080/portal")
    );
}

#[tokio::test]
async fn the_administrators_page_shows_status_and_hides_what_one_may_not_do() {
    let app = test_app().await;
    msp(&app).await;
    let globex = app.core.find_tenant("globex-acme").await.expect("globex");
    let ro = app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    locked_admin(&app).await;
    let rc = session(&app, "globex-acme", &ro.user_id).await;
    let p = get(&app, G, "/portal/admins", &rc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(row_of(&p.body, "locked@globex.example").contains("<td>locked</td>"));
    assert!(row_of(&p.body, "a@globex.example").contains("<td>pending</td>"));
    assert!(
        !p.body.contains("Add admin"),
        "read-only admins change nothing"
    );
    let p = get(&app, G, "/portal/admins?status=locked", &rc).await;
    assert_eq!(rows(&p.body), 1);
    // A POST anyway: core's refusal is shown.
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/admins",
        &rc,
        &[
            ("csrf", &token),
            ("email", "x@globex.example"),
            ("org_access", "read-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may give an admin org access"));

    // A user who administers nothing (directory-provisioned) has no console.
    let user = app
        .core
        .scim_create(
            &globex,
            tenantry::core::scim::Kind::User,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "plain@globex.example"
            }),
            "test",
        )
        .await
        .expect("scim user");
    let id = user.doc["id"].as_str().expect("id").to_string();
    let pc = session(&app, "globex-acme", &id).await;
    let p = get(&app, G, "/portal/admins", &pc).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("you are not an administrator of Globex"));
    assert!(!p.body.contains("a@globex.example"));
}
