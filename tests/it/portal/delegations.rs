//! `/portal/delegations`: delegating and revoking from the MSP host (only there: the
//! customer's host offers no "Delegate" form and refuses its POST), approving, revoking
//! and the "require approval" setting on the customer's host, the rules' errors in place,
//! and the CSRF/Origin refusals.

use super::{assert_accessible, csrf, get, msp, post, row_of, send, session, G, G_ORIGIN, M};
use crate::support::{test_app, Admin, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;

const PAGE: &str = "/portal/delegations?org=globex-acme";

/// The MSP world of `portal.rs` plus a technician (staff, not super-user) of acme and an
/// own org-full admin of globex; the boss's and the owner's sessions.
async fn world(app: &TestApp) -> (String, String) {
    let (boss, boss_cookie) = msp(app).await;
    let key: Admin = app.key_for("acme", &boss, &boss).await;
    let (s, v, _) = app
        .api(
            "POST",
            M,
            "/api/v1/staff",
            Some(&key.key),
            Some(json!({"email": "tech@acme.example", "role": Value::Null})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let owner = app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let owner_cookie = session(app, "globex-acme", &owner.user_id).await;
    (boss_cookie, owner_cookie)
}

/// The delegation id a row's forms carry.
fn id_in(row: &str) -> String {
    let at = row.find("name=\"id\" value=\"").expect("a row form") + "name=\"id\" value=\"".len();
    row[at..].split('"').next().unwrap_or_default().to_string()
}

async fn delegate(app: &TestApp, cookie: &str, token: &str, user: &str) -> super::Page {
    post(
        app,
        M,
        "/portal/delegations",
        cookie,
        &[
            ("csrf", token),
            ("org", "globex-acme"),
            ("msp_user", user),
            ("org_access", "read-only"),
            ("expires_at", "2099-01-01T00:00:00Z"),
        ],
    )
    .await
}

#[tokio::test]
async fn the_msp_delegates_and_revokes_with_errors_in_place() {
    let app = test_app().await;
    let (bc, _) = world(&app).await;
    // Without a customer: the chooser.
    let p = get(&app, M, "/portal/delegations", &bc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p
        .body
        .contains("<label for=\"delegation-org\">Customer</label>"));
    assert!(p
        .body
        .contains("href=\"/portal/delegations\" aria-current=\"page\""));

    let p = get(&app, M, PAGE, &bc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("<h1>Delegations of Globex</h1>"));
    assert!(p.body.contains("<label for=\"new-delegation-user\">"));
    assert!(p.body.contains("No delegations."));
    let token = csrf(&p.body);

    // Rule errors from core, shown next to the form, typed values kept.
    let p = delegate(&app, &bc, &token, "boss@acme.example").await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains(
        "id=\"create-delegation-error\" class=\"error\" role=\"alert\">error: boss@acme.example is an MSP super-user"
    ));
    assert!(
        p.body.contains("value=\"boss@acme.example\""),
        "typed user kept"
    );
    let p = delegate(&app, &bc, &token, "nobody@acme.example").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body
            .contains("error: acme has no user &#39;nobody@acme.example&#39;"),
        "{}",
        p.body
    );
    let p = post(
        &app,
        M,
        "/portal/delegations",
        &bc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("msp_user", "tech@acme.example"),
            ("expires_at", "2001-01-01T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("expires_at must lie in the future"));

    // Created: approved (no approval required), with its expiry.
    let p = delegate(&app, &bc, &token, "tech@acme.example").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/portal/delegations?org=globex-acme&done=created")
    );
    let p = get(
        &app,
        M,
        "/portal/delegations?org=globex-acme&done=created",
        &bc,
    )
    .await;
    assert_accessible(&p);
    assert!(p.body.contains("Delegation created."));
    let row = row_of(&p.body, "tech@acme.example");
    assert!(row.contains("<td>globex-acme</td>"), "{row}");
    assert!(row.contains("<td>read-only</td>"), "{row}");
    assert!(row.contains("<td>approved</td>"), "{row}");
    assert!(row.contains("2099-01-01T00:00:00Z"), "{row}");
    assert!(row.contains(">Revoke</button>"), "{row}");
    assert!(!row.contains(">Approve</button>"), "the MSP never approves");
    let id = id_in(&row);

    // Revoked; the row stays.
    let p = post(
        &app,
        M,
        "/portal/delegations/revoke",
        &bc,
        &[("csrf", &token), ("org", "globex-acme"), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, M, PAGE, &bc).await;
    let row = row_of(&p.body, "tech@acme.example");
    assert!(row.contains("<td>revoked</td>"), "{row}");
    assert!(!row.contains("Revoke"), "{row}");
    // Revoking again: core's conflict in place.
    let p = post(
        &app,
        M,
        "/portal/delegations/revoke",
        &bc,
        &[("csrf", &token), ("org", "globex-acme"), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains(
        "id=\"delegation-action-error\" class=\"error\" role=\"alert\">error: this delegation is already revoked"
    ));
}

#[tokio::test]
async fn the_customer_approves_revokes_and_requires_approval() {
    let app = test_app().await;
    let (bc, oc) = world(&app).await;
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("<h1>Delegations of Globex</h1>"));
    assert!(row_of(&p.body, "boss@acme.example").contains("MSP role"));
    assert!(p.body.contains("<label for=\"require-approval\">"));
    assert!(!p.body.contains(" checked>"), "off by default");
    let token = csrf(&p.body);

    // Require approval.
    let p = post(
        &app,
        G,
        "/portal/delegations/settings",
        &oc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("require_approval", "on"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert!(p.body.contains("value=\"on\" checked>"), "{}", p.body);

    // The MSP delegates: pending until the customer approves.
    let mp = get(&app, M, PAGE, &bc).await;
    let p = delegate(&app, &bc, &csrf(&mp.body), "tech@acme.example").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert_accessible(&p);
    let row = row_of(&p.body, "<td>pending</td>");
    assert!(row.contains("tech@acme.example"), "{row}");
    assert!(row.contains(">Approve</button>"), "{row}");
    let id = id_in(&row);
    let p = post(
        &app,
        G,
        "/portal/delegations/approve",
        &oc,
        &[("csrf", &token), ("org", "globex-acme"), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/delegations", &oc).await;
    let row = row_of(&p.body, "<td>approved</td>");
    assert!(
        row.contains("<td>owner@globex.example</td>"),
        "approved by: {row}"
    );
    assert!(
        row_of(&p.body, "<td>Delegation</td>").contains("tech@acme.example"),
        "the technician has access through the delegation"
    );
    // Approving twice: core's conflict in place.
    let p = post(
        &app,
        G,
        "/portal/delegations/approve",
        &oc,
        &[("csrf", &token), ("org", "globex-acme"), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains(
        "id=\"delegation-action-error\" class=\"error\" role=\"alert\">error: this delegation is approved, not pending"
    ));
    // The customer revokes.
    let p = post(
        &app,
        G,
        "/portal/delegations/revoke",
        &oc,
        &[("csrf", &token), ("org", "globex-acme"), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert!(row_of(&p.body, "tech@acme.example").contains("<td>revoked</td>"));
    // Unchecking the box turns approval off.
    let p = post(
        &app,
        G,
        "/portal/delegations/settings",
        &oc,
        &[("csrf", &token), ("org", "globex-acme")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert!(!p.body.contains(" checked>"));
}

#[tokio::test]
async fn delegation_posts_need_the_origin_and_the_csrf_token() {
    let app = test_app().await;
    let (bc, oc) = world(&app).await;
    let p = get(&app, M, PAGE, &bc).await;
    let token = csrf(&p.body);
    let fields = [
        ("csrf", token.as_str()),
        ("org", "globex-acme"),
        ("msp_user", "tech@acme.example"),
    ];
    for origin in [Some(G_ORIGIN), Some("http://evil.example"), None] {
        let p = send(
            &app,
            "POST",
            M,
            "/portal/delegations",
            Some(&bc),
            origin,
            Some(&fields),
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{origin:?}");
        assert!(p
            .body
            .contains("this request did not come from this organization"));
    }
    let p = post(
        &app,
        M,
        "/portal/delegations",
        &bc,
        &[
            ("csrf", "wrong"),
            ("org", "globex-acme"),
            ("msp_user", "tech@acme.example"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("this form expired; reload the page"));
    // The customer's CSRF token is not the MSP's, nor the reverse.
    let p = post(
        &app,
        G,
        "/portal/delegations/settings",
        &oc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("require_approval", "on"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Nothing was created or changed.
    let p = get(&app, M, PAGE, &bc).await;
    assert!(p.body.contains("No delegations."));
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert!(!p.body.contains(" checked>"));
}

#[tokio::test]
async fn both_sides_offer_creating_delegations_to_their_org_full_admins() {
    let app = test_app().await;
    let (bc, oc) = world(&app).await;
    const CREATE_FORM: &str = "<form method=\"post\" action=\"/portal/delegations\">";
    // The MSP side: the "Delegate" form.
    let p = get(&app, M, PAGE, &bc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains(CREATE_FORM), "{}", p.body);
    assert!(p.body.contains("Delegate a technician to Globex"));
    // The customer side, for its own org-full admin (rule 10): who has access, approval,
    // and the "Delegate" form too; what it creates counts as approved.
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("MSP users with access"));
    assert!(p.body.contains("<label for=\"require-approval\">"));
    assert!(p.body.contains(CREATE_FORM), "{}", p.body);
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/delegations",
        &oc,
        &[
            ("csrf", &token),
            ("org", "globex-acme"),
            ("msp_user", "tech@acme.example"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/delegations", &oc).await;
    assert!(!p.body.contains("No delegations."), "{}", p.body);
    assert!(p.body.contains("tech@acme.example"), "{}", p.body);
    assert!(p.body.contains("approved"), "{}", p.body);
}
