//! `/portal/networks`: list, create, rename and re-tag, port privileges, delete, through
//! the forms with their CSRF token; a read-only admin is refused in place and another
//! tenant's network is not found.

use super::{assert_accessible, csrf, get, msp, network, post, row_of, signed_in, G, M};
use crate::support::test_app;
use axum::http::StatusCode;
use tenantry::authz::OrgAccess;

#[tokio::test]
async fn networks_are_created_tagged_given_port_privileges_and_deleted() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    let p = get(&app, M, "/portal/networks?org=globex-acme", &cookie).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("You see no network here."));
    let token = csrf(&p.body);
    let p = post(
        &app,
        M,
        "/portal/networks",
        &cookie,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("name", "Gamma"),
            ("tags", "east, branch"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/portal/networks?org=globex-acme&done=created")
    );
    let nets = app.core.list_networks("globex-acme").await.expect("list");
    assert_eq!(nets.len(), 1);
    let id = nets[0].id.clone();
    assert_eq!(nets[0].tags, ["branch", "east"]);
    // A bad tag: shown next to the form, what was typed kept, nothing created.
    let p = post(
        &app,
        M,
        "/portal/networks",
        &cookie,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("name", "Delta"),
            ("tags", "Bad!"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p
        .body
        .contains("id=\"create-error\" class=\"error\" role=\"alert\""));
    assert!(p.body.contains("value=\"Delta\""));
    assert_eq!(
        app.core
            .list_networks("globex-acme")
            .await
            .expect("list")
            .len(),
        1
    );

    // Rename and re-tag.
    let p = post(
        &app,
        M,
        "/portal/networks/update",
        &cookie,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("id", &id),
            ("name", "Gamma 2"),
            ("tags", "east"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let nets = app.core.list_networks("globex-acme").await.expect("list");
    assert_eq!(
        (nets[0].name.as_str(), nets[0].tags.clone()),
        ("Gamma 2", vec!["east".to_string()])
    );

    // A port privilege, shown on the network's page, then removed.
    let p = post(
        &app,
        M,
        "/portal/networks/ports",
        &cookie,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("id", &id),
            ("port", "lobby"),
            ("port_tags", "lobby-ports"),
            ("packet_capture", "1"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let back = p.location.expect("back");
    let p = get(&app, M, &back, &cookie).await;
    assert_accessible(&p);
    assert!(p.body.contains("Port privilege added."));
    assert!(row_of(&p.body, "Gamma 2").contains("lobby (ports tagged lobby-ports), packet capture"));
    let lobby = row_of(&p.body, "lobby</th>");
    assert!(lobby.contains("<td>allowed</td>"), "{lobby}");
    let p = post(
        &app,
        M,
        "/portal/networks/ports/delete",
        &cookie,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("id", &id),
            ("name", "lobby"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, M, &p.location.expect("back"), &cookie).await;
    assert!(p.body.contains("None defined."));

    let p = post(
        &app,
        M,
        "/portal/networks/delete",
        &cookie,
        &[("csrf", &token), ("org", "globex-acme"), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(app
        .core
        .list_networks("globex-acme")
        .await
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn networks_refuse_read_only_admins_and_other_tenants() {
    let app = test_app().await;
    msp(&app).await;
    let alpha = network(&app, "globex-acme", "Alpha", &["branch"]).await;
    let other = network(&app, "initech-acme", "Elsewhere", &[]).await;
    let (_, rc) = signed_in(
        &app,
        "globex-acme",
        "ro@globex.example",
        Some(OrgAccess::ReadOnly),
    )
    .await;
    let p = get(&app, G, "/portal/networks", &rc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(row_of(&p.body, "Alpha").contains("<td>read-only</td>"));
    assert!(
        !p.body.contains("Add a network"),
        "read-only admins change nothing"
    );
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/networks",
        &rc,
        &[("csrf", &token), ("name", "Sneaky")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may create networks"));
    let p = post(
        &app,
        G,
        "/portal/networks/update",
        &rc,
        &[
            ("csrf", &token),
            ("id", &alpha.id),
            ("name", "Alpha"),
            ("tags", ""),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(
        p.body
            .contains("only admins with org full access may change a network&#39;s tags")
            || p.body
                .contains("only admins with org full access may change a network's tags")
    );
    let nets = app.core.list_networks("globex-acme").await.expect("list");
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].tags, ["branch"]);

    // An org-full admin of globex cannot touch initech's network: not found.
    let (_, ac) = signed_in(
        &app,
        "globex-acme",
        "full@globex.example",
        Some(OrgAccess::Full),
    )
    .await;
    let token = csrf(&get(&app, G, "/portal/networks", &ac).await.body);
    let p = post(
        &app,
        G,
        "/portal/networks/delete",
        &ac,
        &[("csrf", &token), ("id", &other.id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.core
            .list_networks("initech-acme")
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        get(&app, G, "/portal/networks?org=initech-acme", &ac)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let p = get(&app, G, &format!("/portal/networks?edit={}", other.id), &ac).await;
    assert!(!p.body.contains("Elsewhere"));
}
