//! `/portal/staff`: the MSP's staff with role and scope on its own host; adding staff,
//! changing role and scope through `api_create_staff`/`api_update_staff`, core's refusals
//! shown in place (unknown customer, one's own role, a non-super-user), and "not found"
//! on a customer's host.

use super::{assert_accessible, csrf, get, msp, post, row_of, session, G, M};
use crate::support::{test_app, Admin, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// The id the row's change form carries.
fn id_in(row: &str) -> String {
    let at = row.find("name=\"id\" value=\"").expect("a row form") + "name=\"id\" value=\"".len();
    row[at..].split('"').next().unwrap_or_default().to_string()
}

/// An observer scoped to globex, added through the admin API; their user id.
async fn observer(app: &TestApp, boss: &str) -> String {
    let key: Admin = app.key_for("acme", boss, boss).await;
    let (s, v, _) = app
        .api(
            "POST",
            M,
            "/api/v1/staff",
            Some(&key.key),
            Some(json!({"email": "obs@acme.example", "role": "observer", "scope": ["globex"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn super_users_list_add_and_change_staff_with_errors_in_place() {
    let app = test_app().await;
    let (boss, bc) = msp(&app).await;
    let obs = observer(&app, &boss).await;
    let p = get(&app, M, "/portal/staff", &bc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p
        .body
        .contains("href=\"/portal/staff\" aria-current=\"page\""));
    let row = row_of(&p.body, "obs@acme.example");
    assert!(row.contains("<td>observer</td>"), "{row}");
    assert!(row.contains("<td>globex-acme</td>"), "{row}");
    assert!(row_of(&p.body, "boss@acme.example").contains("<td>super-user</td>"));
    assert!(row_of(&p.body, "boss@acme.example").contains("<td>all customers</td>"));
    let token = csrf(&p.body);

    // Add a helpdesk member scoped to initech.
    let p = post(
        &app,
        M,
        "/portal/staff",
        &bc,
        &[
            ("csrf", &token),
            ("email", "help@acme.example"),
            ("name", "Help Desk"),
            ("role", "helpdesk"),
            ("scope", "initech"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert!(p.body.contains("Added help@acme.example as helpdesk"));
    let row = row_of(&p.body, "help@acme.example");
    assert!(
        row.contains("<td>helpdesk</td>") && row.contains("<td>initech-acme</td>"),
        "{row}"
    );
    let key: Admin = app.key_for("acme", &boss, &boss).await;
    let (_, v, _) = app
        .api("GET", M, "/api/v1/staff?q=help", Some(&key.key), None)
        .await;
    assert_eq!(v["items"][0]["role"], json!("helpdesk"), "{v}");
    assert_eq!(v["items"][0]["scope"], json!(["initech-acme"]), "{v}");

    // Refused: an unknown customer; nothing is added, the typed values stay.
    let p = post(
        &app,
        M,
        "/portal/staff",
        &bc,
        &[
            ("csrf", &token),
            ("email", "new@acme.example"),
            ("role", "installer"),
            ("scope", "nosuch"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains(
        "id=\"add-staff-error\" class=\"error\" role=\"alert\">error: acme has no customer &#39;nosuch&#39;"
    ), "{}", p.body);
    assert!(
        p.body.contains("value=\"new@acme.example\""),
        "typed e-mail kept"
    );
    assert!(!p.body.contains("<th scope=\"row\">new@acme.example</th>"));

    // Change the observer into a network admin of every customer.
    let p = post(
        &app,
        M,
        "/portal/staff/update",
        &bc,
        &[
            ("csrf", &token),
            ("id", &obs),
            ("role", "network-admin"),
            ("scope", "all"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/portal/staff?done=changed"));
    let p = get(&app, M, "/portal/staff?done=changed", &bc).await;
    assert!(p.body.contains("Staff role saved."));
    let row = row_of(&p.body, "obs@acme.example");
    assert!(
        row.contains("<td>network-admin</td>") && row.contains("<td>all customers</td>"),
        "{row}"
    );
    assert_eq!(id_in(&row), obs);
    let (_, v, _) = app
        .api(
            "GET",
            M,
            &format!("/api/v1/staff/{obs}"),
            Some(&key.key),
            None,
        )
        .await;
    assert_eq!(v["role"], json!("network-admin"));
    assert_eq!(v["scope"], json!("all"));

    // Refused: one's own role (core's `cannot_change_self`), in place.
    let p = post(
        &app,
        M,
        "/portal/staff/update",
        &bc,
        &[
            ("csrf", &token),
            ("id", &boss),
            ("role", "observer"),
            ("scope", "all"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains(
        "id=\"staff-row-error\" class=\"error\" role=\"alert\">error: ask another super-user to change your own staff role"
    ), "{}", p.body);

    // Search.
    let p = get(&app, M, "/portal/staff?q=help", &bc).await;
    assert!(p.body.contains("help@acme.example") && !p.body.contains("obs@acme.example"));
}

#[tokio::test]
async fn staff_without_super_user_see_the_list_and_no_forms_and_are_refused() {
    let app = test_app().await;
    let (boss, _) = msp(&app).await;
    let obs = observer(&app, &boss).await;
    // The observer holds org read-only in the MSP? Only if core says so: the page shows
    // what api_list_staff gives, and never a change form.
    let oc = session(&app, "acme", &obs).await;
    let p = get(&app, M, "/portal/staff", &oc).await;
    assert!(
        !p.body.contains("action=\"/portal/staff/update\""),
        "{}",
        p.body
    );
    assert!(!p.body.contains("id=\"new-staff-email\""));
    // A hand-made POST is refused by core (org full required), with nothing changed.
    let token = csrf(&p.body);
    let p = post(
        &app,
        M,
        "/portal/staff/update",
        &oc,
        &[("csrf", &token), ("id", &boss), ("role", "observer")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    let key: Admin = app.key_for("acme", &boss, &boss).await;
    let (_, v, _) = app
        .api(
            "GET",
            M,
            &format!("/api/v1/staff/{boss}"),
            Some(&key.key),
            None,
        )
        .await;
    assert_eq!(v["role"], Value::from("super-user"));
}

#[tokio::test]
async fn the_staff_page_exists_only_on_ones_own_msp_host() {
    let app = test_app().await;
    msp(&app).await;
    let owner = app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(tenantry::authz::OrgAccess::Full),
            vec![],
        )
        .await;
    let oc = session(&app, "globex-acme", &owner.user_id).await;
    let p = get(&app, G, "/portal/staff", &oc).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = get(&app, G, "/portal/admins", &oc).await;
    assert!(
        !p.body.contains("href=\"/portal/staff\""),
        "no Staff link on a customer"
    );
}
