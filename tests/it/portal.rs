//! The web console under `/portal`, driven through `router(state)` with sessions made by
//! the core session service: sign-in redirect, the MSP overview (warning, sort, filter,
//! pagination), adding (and cloning) and deleting customers, the administrators page and
//! the rules' errors shown in place, CSRF and Origin refusals, and the page basics (CSP,
//! no inline script, a label for every control, landmarks). The administrators page is in
//! `portal/admins.rs`.

mod admin_actions;
mod admins;
mod audit;
mod delegations;
mod federation;
mod integrations;
mod mappings;
mod networks;
mod privileges;
mod staff;
mod switcher;

use crate::support::{test_app, Admin, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tenantry::authz::OrgAccess;
use tenantry::core::audit::Actor;
use tenantry::core::networks::NetworkView;

pub(super) const M: &str = "acme.localhost:8080";
pub(super) const M_ORIGIN: &str = "http://acme.localhost:8080";
pub(super) const G: &str = "globex-acme.localhost:8080";
pub(super) const G_ORIGIN: &str = "http://globex-acme.localhost:8080";
pub(super) const I: &str = "initech-acme.localhost:8080";

pub(super) struct Page {
    pub(super) status: StatusCode,
    pub(super) csp: Option<String>,
    pub(super) location: Option<String>,
    pub(super) body: String,
}

pub(super) async fn send(
    app: &TestApp,
    method: &str,
    host: &str,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> Page {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("tenantry_session={c}"));
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let req = match form {
        Some(fields) => {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                s.append_pair(k, v);
            }
            req.header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(s.finish()))
        }
        None => req.body(Body::empty()),
    }
    .expect("request");
    let r = app.request(req).await;
    let h = |name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Page {
        status: r.status,
        csp: h("content-security-policy"),
        location: h("location"),
        body: r.body,
    }
}

pub(super) async fn get(app: &TestApp, host: &str, path: &str, cookie: &str) -> Page {
    send(app, "GET", host, path, Some(cookie), None, None).await
}

/// A form POST from this host's own pages (its Origin).
pub(super) async fn post(
    app: &TestApp,
    host: &str,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> Page {
    let origin = format!("http://{host}");
    send(
        app,
        "POST",
        host,
        path,
        Some(cookie),
        Some(&origin),
        Some(fields),
    )
    .await
}

/// A session of `user_id` in `tenant`, as `/login` would start it; the cookie value.
pub(super) async fn session(app: &TestApp, tenant: &str, user_id: &str) -> String {
    let t = app.core.find_tenant(tenant).await.expect("tenant");
    app.core
        .create_session(&t, user_id, &["webauthn"], None)
        .await
        .expect("session")
        .1
}

/// A new admin of `tenant` (no network grants) and a session of theirs on it.
pub(super) async fn signed_in(
    app: &TestApp,
    tenant: &str,
    email: &str,
    org: Option<OrgAccess>,
) -> (Admin, String) {
    let admin = app.admin(tenant, email, org, vec![]).await;
    let cookie = session(app, tenant, &admin.user_id).await;
    (admin, cookie)
}

/// The CSRF token the page's forms carry.
pub(super) fn csrf(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().unwrap_or_default().to_string()
}

/// The table row (after its row header) that mentions `needle`.
pub(super) fn row_of(body: &str, needle: &str) -> String {
    body.split("<tr><th scope=\"row\">")
        .skip(1)
        .find(|r| r.contains(needle))
        .map(|r| r.split("</tr>").next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no row with {needle}"))
}

/// The `id` of the first row action on a page, if it has one.
pub(super) fn first_id(body: &str) -> Option<String> {
    body.split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(str::to_string)
}

pub(super) fn rows(body: &str) -> usize {
    body.matches("<tr><th scope=\"row\">").count()
}

/// The page basics: landmarks, one h1, no script of its own, a label for every control.
pub(super) fn assert_accessible(page: &Page) {
    let b = &page.body;
    assert!(
        page.csp
            .as_deref()
            .is_some_and(|c| c.contains("default-src 'self'")),
        "CSP header: {:?}",
        page.csp
    );
    assert!(!b.contains("<script"), "no script at all, inline or not");
    assert!(!b.contains(" style="), "no inline style");
    assert!(b.contains("<main id=\"main\""), "main landmark");
    assert!(b.contains("<header"), "header landmark");
    assert!(b.contains("<nav aria-label=\"Portal\">"), "navigation");
    assert_eq!(b.matches("<h1>").count(), 1, "one h1");
    for tag in ["<input", "<select", "<textarea"] {
        for (i, _) in b.match_indices(tag) {
            let el = &b[i..i + b[i..].find('>').expect("tag ends")];
            if el.contains("type=\"hidden\"") {
                continue;
            }
            let id = el
                .split("id=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("control without id: {el}"));
            assert!(
                b.contains(&format!("<label for=\"{id}\"")),
                "no label for #{id}"
            );
        }
    }
}

/// MSP `acme` with its boss (org full, super-user), customers `globex` (two org-full
/// admins) and `initech` (none); returns the boss's session on the MSP host.
pub(super) async fn msp(app: &TestApp) -> (String, String) {
    let acme = app.msp("acme", "boss@acme.example").await;
    let boss = acme.admin.expect("boss").user_id;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    for e in ["a@globex.example", "b@globex.example"] {
        app.admin("globex-acme", e, Some(OrgAccess::Full), vec![])
            .await;
    }
    let cookie = session(app, "acme", &boss).await;
    (boss, cookie)
}

/// A network `name` of `tenant` with `tags`, made by the CLI.
pub(super) async fn network(app: &TestApp, tenant: &str, name: &str, tags: &[&str]) -> NetworkView {
    let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    app.core
        .create_network(tenant, name, &tags, &Actor::cli())
        .await
        .expect("net")
}

/// `msp`, then globex's org-full and read-only admins' sessions, and initech's org-full
/// admin's key.
pub(super) async fn full_and_read_only(app: &TestApp) -> (String, String, String) {
    msp(app).await;
    let (_, full) = signed_in(
        app,
        "globex-acme",
        "full@globex.example",
        Some(OrgAccess::Full),
    )
    .await;
    let (_, ro) = signed_in(
        app,
        "globex-acme",
        "ro@globex.example",
        Some(OrgAccess::ReadOnly),
    )
    .await;
    let other = app
        .admin(
            "initech-acme",
            "i@initech.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    (full, ro, other.key)
}

/// A read-only admin of globex, `locked@globex.example`, locked for an hour.
pub(super) async fn locked_admin(app: &TestApp) -> Admin {
    use tenantry::clock::Clock;
    let globex = app.core.find_tenant("globex-acme").await.expect("globex");
    let locked = app
        .admin(
            "globex-acme",
            "locked@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    app.core
        .lock_admin(&globex, &locked.user_id, app.clock.now() + 3600)
        .await
        .expect("lock");
    locked
}

#[tokio::test]
async fn portal_pages_need_a_session_of_this_host() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    for path in [
        "/portal",
        "/portal/customers",
        "/portal/admins",
        "/portal/customers/globex-acme/delete",
    ] {
        let p = send(&app, "GET", M, path, None, None, None).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location.as_deref(), Some("/login"), "{path}");
        let p = send(&app, "GET", M, path, Some("tnt_ses_bogus"), None, None).await;
        assert_eq!(p.location.as_deref(), Some("/login"), "{path}");
    }
    // A session belongs to its own host only.
    let p = get(&app, G, "/portal/admins", &cookie).await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    let p = get(&app, M, "/portal", &cookie).await;
    assert_eq!(p.location.as_deref(), Some("/portal/customers"));
    let css = app.get(M, "/static/portal.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.contains("@media (max-width:600px)"));
}

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

#[tokio::test]
async fn posts_need_the_origin_and_the_csrf_token() {
    let app = test_app().await;
    let (boss, cookie) = msp(&app).await;
    let token = csrf(&get(&app, M, "/portal/customers", &cookie).await.body);
    let fields = [("csrf", token.as_str()), ("name", "hooli")];
    let p = send(
        &app,
        "POST",
        M,
        "/portal/customers",
        Some(&cookie),
        None,
        Some(&fields),
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("did not come from this organization"));
    for origin in [
        "http://globex-acme.localhost:8080",
        "null",
        "http://evil.example",
    ] {
        let p = send(
            &app,
            "POST",
            M,
            "/portal/customers",
            Some(&cookie),
            Some(origin),
            Some(&fields),
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{origin}");
    }
    let p = post(&app, M, "/portal/customers", &cookie, &[("name", "hooli")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("this form expired"));
    // Another session's token is not this one's.
    let other = session(&app, "acme", &boss).await;
    let p = post(&app, M, "/portal/customers", &other, &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = post(
        &app,
        M,
        "/portal/admins",
        &cookie,
        &[("email", "x@acme.example"), ("org_access", "full")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Without a session a POST goes to sign-in, and nothing was created.
    let p = send(
        &app,
        "POST",
        M,
        "/portal/customers",
        None,
        Some(M_ORIGIN),
        Some(&fields),
    )
    .await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    assert!(app.core.find_tenant("hooli-acme").await.is_err());
}
