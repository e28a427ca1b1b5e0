//! The MSP overview under `/portal/customers` (the org-full warning, the switcher, sorting,
//! filtering and pagination on the server), adding and cloning customers with core's
//! errors in place, and deleting a customer only when its name is typed.

use super::{
    assert_accessible, csrf, get, msp, network, post, row_of, rows, session, signed_in, G, M,
};
use crate::support::test_app;
use axum::http::StatusCode;
use tenantry::authz::OrgAccess;

#[tokio::test]
async fn the_overview_lists_customers_with_the_warning_and_the_switcher() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    let p = get(&app, M, "/portal/customers", &cookie).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    // The switcher's form may lead to a customer's host (through redirects), no further.
    assert_eq!(
        p.csp.as_deref(),
        Some(
            "default-src 'self'; base-uri 'none'; form-action 'self' http://*.localhost:8080; \
             frame-ancestors 'none'"
        )
    );
    assert_eq!(rows(&p.body), 2);
    assert!(p.body.contains("Globex") && p.body.contains("Initech"));
    // globex has two org-full admins, initech none: one warning, on initech's row.
    assert_eq!(p.body.matches("Warning: fewer than two").count(), 1);
    let initech = row_of(&p.body, "initech-acme");
    assert!(initech.contains("Warning: fewer than two"));
    assert!(p.body.contains("<option value=\"globex-acme\""), "switcher");
    assert!(p.body.contains("Add customer") && p.body.contains("Delete…"));
    assert!(p.body.contains("boss@acme.example"), "who is signed in");
    // The switcher sends a customer through /switch/start on the customer's host.
    let s = get(&app, M, "/portal/switch?to=globex-acme", &cookie).await;
    assert_eq!(
        s.location.as_deref(),
        Some("http://globex-acme.localhost:8080/switch/start?to=globex-acme")
    );
    let s = get(&app, M, "/portal/switch?to=hooli", &cookie).await;
    assert_eq!(s.status, StatusCode::NOT_FOUND);

    // Staff without an MSP role reach no customer and see no form to add one.
    let (_, sc) = signed_in(&app, "acme", "tech@acme.example", Some(OrgAccess::ReadOnly)).await;
    let p = get(&app, M, "/portal/customers", &sc).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(rows(&p.body), 0);
    assert!(!p.body.contains("globex") && !p.body.contains("Add customer"));
    let s = get(&app, M, "/portal/switch?to=globex-acme", &sc).await;
    assert_eq!(s.status, StatusCode::NOT_FOUND);
    let p = get(&app, M, "/portal/admins?org=globex-acme", &sc).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // No overview on a customer host.
    let (_, gc) = signed_in(
        &app,
        "globex-acme",
        "c@globex.example",
        Some(OrgAccess::Full),
    )
    .await;
    assert_eq!(
        get(&app, G, "/portal/customers", &gc).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, G, "/portal", &gc).await.location.as_deref(),
        Some("/portal/admins")
    );
}

#[tokio::test]
async fn the_overview_sorts_filters_and_paginates_on_the_server() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let boss = acme.admin.expect("boss").user_id;
    for i in 0..55 {
        app.customer(&format!("c{i:02}"), "acme", &format!("Customer {i:02}"))
            .await;
    }
    app.admin("c03-acme", "x@c03.example", Some(OrgAccess::Full), vec![])
        .await;
    let cookie = session(&app, "acme", &boss).await;
    let first = |body: &str| {
        body.split("<tr><th scope=\"row\">")
            .nth(1)
            .and_then(|r| r.split("<br>").next())
            .unwrap_or_default()
            .to_string()
    };
    let p = get(&app, M, "/portal/customers", &cookie).await;
    assert_eq!(rows(&p.body), 50);
    assert_eq!(first(&p.body), "Customer 00");
    assert!(p.body.contains("Page 1 of 2 · 55 customer(s)"));
    assert!(p.body.contains("rel=\"next\"") && !p.body.contains("rel=\"prev\""));
    let p = get(
        &app,
        M,
        "/portal/customers?sort=name&dir=asc&page=2",
        &cookie,
    )
    .await;
    assert_eq!(rows(&p.body), 5);
    assert_eq!(first(&p.body), "Customer 50");
    assert!(p.body.contains("rel=\"prev\""));
    let p = get(&app, M, "/portal/customers?sort=name&dir=desc", &cookie).await;
    assert_eq!(first(&p.body), "Customer 54");
    assert!(p.body.contains("aria-sort=\"descending\""));
    let p = get(&app, M, "/portal/customers?sort=users&dir=desc", &cookie).await;
    assert_eq!(first(&p.body), "Customer 03");
    let p = get(&app, M, "/portal/customers?q=customer+1", &cookie).await;
    assert_eq!(rows(&p.body), 10);
    assert!(p.body.contains("value=\"customer 1\""), "the search stays");
    // Links keep the filter; nonsense falls back instead of failing.
    let p = get(&app, M, "/portal/customers?q=c1&sort=users", &cookie).await;
    assert!(p
        .body
        .contains("href=\"/portal/customers?q=c1&amp;sort=name&amp;dir=asc\""));
    let p = get(
        &app,
        M,
        "/portal/customers?sort=%3Cx%3E&page=99&dir=x",
        &cookie,
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Page 2 of 2"));
}

#[tokio::test]
async fn customers_are_added_cloned_and_errors_shown_in_place() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    let hq = network(&app, "globex-acme", "HQ", &["hq"]).await;
    let page = get(&app, M, "/portal/customers", &cookie).await;
    let token = csrf(&page.body);
    let p = post(
        &app,
        M,
        "/portal/customers",
        &cookie,
        &[
            ("csrf", &token),
            ("name", "hooli"),
            ("display_name", "Hooli"),
            ("admin_email", "gavin@hooli.example"),
            ("clone_from", "globex-acme"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/portal/customers?created=hooli-acme")
    );
    let nets = app.core.list_networks("hooli-acme").await.expect("cloned");
    assert_eq!(nets.len(), 1);
    assert_ne!(nets[0].id, hq.id);
    let p = get(&app, M, "/portal/customers?created=hooli-acme", &cookie).await;
    assert!(p.body.contains("Customer hooli-acme created."));
    assert_eq!(rows(&p.body), 3);
    let hooli = row_of(&p.body, "hooli-acme");
    assert!(hooli.contains("0 / 1"), "one pending admin: {hooli}");

    // The same name again: the conflict is shown next to the form, with what was typed.
    let p = post(
        &app,
        M,
        "/portal/customers",
        &cookie,
        &[
            ("csrf", &token),
            ("name", "hooli"),
            ("display_name", "Hooli 2"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p
        .body
        .contains("id=\"add-error\" class=\"error\" role=\"alert\""));
    assert!(p.body.contains("value=\"Hooli 2\""));
    assert_accessible(&p);
    let p = post(
        &app,
        M,
        "/portal/customers",
        &cookie,
        &[
            ("csrf", &token),
            ("name", "pied"),
            ("clone_from", "nosuch-acme"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("nosuch-acme is not a customer of acme"));
    assert!(app.core.find_tenant("pied-acme").await.is_err());

    // Staff without org full: core refuses, the refusal is shown.
    let (_, sc) = signed_in(&app, "acme", "tech@acme.example", Some(OrgAccess::ReadOnly)).await;
    let st = csrf(&get(&app, M, "/portal/customers", &sc).await.body);
    let p = post(
        &app,
        M,
        "/portal/customers",
        &sc,
        &[("csrf", &st), ("name", "pied")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may manage customers"));
}

#[tokio::test]
async fn deleting_a_customer_needs_its_name_typed() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    let p = get(&app, M, "/portal/customers/globex-acme/delete", &cookie).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_accessible(&p);
    assert!(p
        .body
        .contains("Type the customer's name <code>globex-acme</code>"));
    let token = csrf(&p.body);
    let path = "/portal/customers/globex-acme/delete";
    for wrong in ["globex", "Globex", ""] {
        let p = post(
            &app,
            M,
            path,
            &cookie,
            &[("csrf", &token), ("confirm", wrong)],
        )
        .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert!(p
            .body
            .contains("the name typed does not match; nothing was deleted"));
    }
    assert!(app.core.find_tenant("globex-acme").await.is_ok());
    let p = post(
        &app,
        M,
        path,
        &cookie,
        &[("csrf", &token), ("confirm", "globex-acme")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/portal/customers?deleted=globex-acme")
    );
    assert!(app.core.find_tenant("globex-acme").await.is_err());
    let p = get(&app, M, "/portal/customers?deleted=globex-acme", &cookie).await;
    assert!(p.body.contains("Customer globex-acme deleted"));
    assert_eq!(rows(&p.body), 1);
    // Gone, or never ours: not found.
    assert_eq!(
        get(&app, M, path, &cookie).await.status,
        StatusCode::NOT_FOUND
    );
    // Staff without org full cannot reach the confirmation.
    let ro = app
        .admin("acme", "ro@acme.example", Some(OrgAccess::ReadOnly), vec![])
        .await;
    let rc = session(&app, "acme", &ro.user_id).await;
    assert_eq!(
        get(&app, M, "/portal/customers/initech-acme/delete", &rc)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
