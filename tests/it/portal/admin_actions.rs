//! The administrators page's row actions: change (org access and grants), remove,
//! unlock, resend enrolment, with the rules' refusals (last org-full admin, granting
//! beyond one's own access, read-only admins) shown in place; another tenant's admin is
//! not found.

use super::{
    assert_accessible, csrf, get, locked_admin, msp, network, post, row_of, session, signed_in, G,
};
use crate::support::test_app;
use axum::http::StatusCode;
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};

#[tokio::test]
async fn admins_are_changed_removed_unlocked_and_re_sent_their_link() {
    let app = test_app().await;
    msp(&app).await;
    let full = app
        .admin(
            "globex-acme",
            "full@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let b = app
        .admin(
            "globex-acme",
            "bee@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let locked = locked_admin(&app).await;
    let fc = session(&app, "globex-acme", &full.user_id).await;
    let p = get(&app, G, "/portal/admins", &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    let row = row_of(&p.body, "bee@globex.example");
    assert!(
        row.contains("aria-label=\"Change bee@globex.example\""),
        "{row}"
    );
    assert!(
        row.contains("Resend enrolment") && row.contains(">Remove<"),
        "{row}"
    );
    assert!(row_of(&p.body, "locked@globex.example").contains(">Unlock<"));
    let token = csrf(&p.body);

    // Change: the form is filled with the current access; full -> read-only.
    let edit = format!("/portal/admins/edit?org=globex-acme&id={}", b.id);
    let p = get(&app, G, &edit, &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("<h1>Change bee@globex.example</h1>"));
    assert!(p.body.contains("<option value=\"full\" selected>"));
    let p = post(
        &app,
        G,
        "/portal/admins/edit",
        &fc,
        &[
            ("csrf", &token),
            ("id", &b.id),
            ("org_access", "read-only"),
            ("tag_grants", "branch=monitor-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/portal/admins?org=globex-acme&done=changed")
    );
    let (_, v, _) = app
        .api(
            "GET",
            G,
            &format!("/api/v1/orgs/globex-acme/admins/{}", b.id),
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(v["org_access"], "read-only");
    assert_eq!(v["grants"][0]["target"], "tag:branch");
    // Unlock and resend.
    let p = post(
        &app,
        G,
        "/portal/admins/unlock",
        &fc,
        &[("csrf", &token), ("id", &locked.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("Administrator unlocked."));
    assert!(!row_of(&p.body, "locked@globex.example").contains("<td>locked</td>"));
    let p = post(
        &app,
        G,
        "/portal/admins/resend",
        &fc,
        &[("csrf", &token), ("id", &b.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("A new enrolment link was sent by e-mail"));
    // Remove.
    let p = post(
        &app,
        G,
        "/portal/admins/remove",
        &fc,
        &[("csrf", &token), ("id", &b.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let (st, _, _) = app
        .api(
            "GET",
            G,
            &format!("/api/v1/orgs/globex-acme/admins/{}", b.id),
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_actions_show_the_rules_refusals_in_place() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    let alpha = network(&app, "globex-acme", "Alpha", &[]).await;
    let beta = network(&app, "globex-acme", "Beta", &[]).await;
    let (only, oc) = signed_in(
        &app,
        "globex-acme",
        "only@globex.example",
        Some(OrgAccess::Full),
    )
    .await;
    let token = csrf(&get(&app, G, "/portal/admins", &oc).await.body);
    // Rule 4: the last org-full admin stays, neither removed nor demoted.
    let p = post(
        &app,
        G,
        "/portal/admins/remove",
        &oc,
        &[("csrf", &token), ("id", &only.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains("id=\"row-error\" class=\"error\" role=\"alert\">error: this is the last admin with org full access"));
    assert_accessible(&p);
    let p = post(
        &app,
        G,
        "/portal/admins/edit",
        &oc,
        &[
            ("csrf", &token),
            ("id", &only.id),
            ("org_access", "read-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains(
        "id=\"edit-error\" class=\"error\" role=\"alert\">error: this is the last admin"
    ));
    assert!(
        p.body.contains("<option value=\"read-only\" selected>"),
        "typed kept"
    );

    // A network admin (full on Alpha, read-only on Beta) changes Alpha grants only.
    let grant = |t: &str, a: NetworkAccess| Grant {
        target: Target::Network(t.to_string()),
        access: a,
    };
    let net = app
        .admin(
            "globex-acme",
            "net@globex.example",
            None,
            vec![
                grant(&alpha.id, NetworkAccess::Full),
                grant(&beta.id, NetworkAccess::ReadOnly),
            ],
        )
        .await;
    let tech = app
        .admin(
            "globex-acme",
            "tech@globex.example",
            None,
            vec![grant(&alpha.id, NetworkAccess::MonitorOnly)],
        )
        .await;
    let nc = session(&app, "globex-acme", &net.user_id).await;
    let nt = csrf(&get(&app, G, "/portal/admins", &nc).await.body);
    let (a_key, b_key) = (format!("grant.{}", alpha.id), format!("grant.{}", beta.id));
    let p = post(
        &app,
        G,
        "/portal/admins/edit",
        &nc,
        &[
            ("csrf", &nt),
            ("id", &tech.id),
            ("org_access", "none"),
            (&a_key, "monitor-only"),
            (&b_key, "read-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.body.contains(&format!(
        "changing grants on network {} needs full access on it",
        beta.id
    )));
    let p = post(
        &app,
        G,
        "/portal/admins/edit",
        &nc,
        &[
            ("csrf", &nt),
            ("id", &tech.id),
            ("org_access", "none"),
            (&a_key, "read-only"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // ...and cannot touch the org-full admin (rule 1).
    let p = post(
        &app,
        G,
        "/portal/admins/remove",
        &nc,
        &[("csrf", &nt), ("id", &only.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);

    // A read-only admin sees no actions and is refused; another tenant's admin: not found.
    let (_, rc) = signed_in(
        &app,
        "globex-acme",
        "ro@globex.example",
        Some(OrgAccess::ReadOnly),
    )
    .await;
    let p = get(&app, G, "/portal/admins", &rc).await;
    assert!(!p.body.contains(">Remove<") && !p.body.contains("Actions"));
    let rt = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/admins/remove",
        &rc,
        &[("csrf", &rt), ("id", &tech.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may remove this admin"));
    let p = post(
        &app,
        G,
        "/portal/admins/edit",
        &rc,
        &[("csrf", &rt), ("id", &tech.id), ("org_access", "full")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may change an admin&#39;s org access"));
    let other = app
        .admin(
            "initech-acme",
            "i@initech.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let p = post(
        &app,
        G,
        "/portal/admins/remove",
        &oc,
        &[("csrf", &token), ("id", &other.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = get(
        &app,
        G,
        &format!("/portal/admins/edit?id={}", other.id),
        &oc,
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.body.contains("i@initech.example"));
    let (st, _, _) = app
        .api(
            "GET",
            "initech-acme.localhost:8080",
            &format!("/api/v1/orgs/initech-acme/admins/{}", other.id),
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "still there");
}
