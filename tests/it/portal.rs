//! The web console under `/portal`, driven through `router(state)` with sessions made by
//! the core session service. This file holds what the page tests share: the request
//! helpers, the page basics every page is checked for (`assert_accessible`: CSP, no inline
//! script, a label for every control, landmarks) and the MSP world they start from; the
//! tests are in `portal/*.rs`, one file a page (`basics.rs`: sign-in redirect, CSRF and
//! Origin refusals; `customers.rs`: the MSP overview, adding, cloning and deleting
//! customers).

mod admin_actions;
mod admins;
mod audit;
mod basics;
mod customers;
mod delegations;
mod federation;
mod integrations;
mod keys;
mod mappings;
mod networks;
mod privileges;
mod staff;
mod switcher;

use crate::support::{Admin, TestApp};
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
