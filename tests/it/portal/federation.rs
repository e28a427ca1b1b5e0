//! The federation page: an org-full admin adds an OIDC connection (the client secret
//! typed once, never shown again, not even in a refused form) and removes it; a SAML
//! connection needs real IdP metadata; a read-only admin sees the list and is refused in
//! place; another tenant's connection is "not found".

use super::{assert_accessible, csrf, first_id, full_and_read_only, get, post, row_of, rows, G, I};
use crate::support::test_app;
use axum::http::StatusCode;

const SECRET: &str = "upstream-secret-4711";

#[tokio::test]
async fn connections_are_added_with_a_write_only_secret_refused_to_readers_and_removed() {
    let app = test_app().await;
    let (fc, rc, other) = full_and_read_only(&app).await;
    let p = get(&app, G, "/portal/federation", &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p
        .body
        .contains("href=\"/portal/federation\" aria-current=\"page\""));
    assert_eq!(rows(&p.body), 0);
    let token = csrf(&p.body);
    let oidc = |name: &'static str, issuer: &'static str| {
        vec![
            ("kind", "oidc"),
            ("name", name),
            ("display_name", "Corp SSO"),
            ("issuer", issuer),
            ("client_id", "tenantry-globex"),
            ("client_secret", SECRET),
            ("domains", "corp.example"),
            ("claim", "groups"),
        ]
    };
    let mut fields = vec![("csrf", token.as_str())];
    fields.extend(oidc("corp", "https://idp.corp.example"));
    let p = post(&app, G, "/portal/federation", &fc, &fields).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("Connection added."), "{}", p.body);
    let row = row_of(&p.body, "https://idp.corp.example");
    assert!(row.contains("secret set"), "{row}");
    assert!(row.contains("corp.example (not verified)"), "{row}");
    assert!(row.contains("/federation/corp/callback"), "{row}");
    assert!(!p.body.contains(SECRET), "the secret is never shown");
    let listed = app
        .core
        .list_connections(&app.core.find_tenant("globex-acme").await.expect("t"))
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].has_client_secret);

    // A refused form keeps what was typed except the secret.
    let mut fields = vec![("csrf", token.as_str())];
    fields.extend(oidc("corp", "https://idp2.corp.example"));
    let p = post(&app, G, "/portal/federation", &fc, &fields).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains("id=\"create-error\""), "{}", p.body);
    assert!(p.body.contains("value=\"https://idp2.corp.example\""));
    assert!(!p.body.contains(SECRET), "a refused form drops the secret");
    let p = post(
        &app,
        G,
        "/portal/federation",
        &fc,
        &[
            ("csrf", &token),
            ("kind", "saml"),
            ("name", "saml-corp"),
            ("metadata", "<nope/>"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert_eq!(rows(&p.body), 1);

    // Read-only: listed, no form, refused in place.
    let p = get(&app, G, "/portal/federation", &rc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(rows(&p.body), 1);
    assert!(!p.body.contains("Add a connection"));
    let rt = csrf(&p.body);
    let mut fields = vec![("csrf", rt.as_str())];
    fields.extend(oidc("mine", "https://idp.mine.example"));
    let p = post(&app, G, "/portal/federation", &rc, &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p
        .body
        .contains("only admins with org full access may change federation settings"));
    assert!(
        first_id(&p.body).is_none(),
        "no remove buttons for a reader"
    );

    // Another tenant's connection: not found, and it stays.
    let (st, body, _) = app
        .api(
            "POST",
            I,
            "/api/v1/orgs/initech-acme/federation",
            Some(&other),
            Some(serde_json::json!({"name": "theirs", "kind": "oidc",
                "issuer": "https://idp.initech.example", "client_id": "x"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let theirs = body["id"].as_str().expect("id");
    let p = post(
        &app,
        G,
        "/portal/federation/delete",
        &fc,
        &[("csrf", &token), ("id", theirs)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
    let initech = app.core.find_tenant("initech-acme").await.expect("t");
    assert_eq!(
        app.core.list_connections(&initech).await.expect("l").len(),
        1
    );

    // Removed.
    let p = get(&app, G, "/portal/federation", &fc).await;
    let ours = first_id(&p.body).expect("id");
    let p = post(
        &app,
        G,
        "/portal/federation/delete",
        &fc,
        &[("csrf", &token), ("id", &ours)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("Connection removed."), "{}", p.body);
    assert_eq!(rows(&p.body), 0);
}

/// The TXT value shown for `domain` on the page.
fn published_value(body: &str, domain: &str) -> String {
    let marker = format!("_tenantry.{domain} TXT \"");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in {body}"))
        + marker.len();
    body[at..].split('"').next().expect("value").to_string()
}

#[tokio::test]
async fn a_domain_is_verified_with_the_check_dns_button() {
    use crate::federation_dns::{app_with_dns, TestDns};
    use std::sync::atomic::Ordering;
    let dns = TestDns::start();
    let app = app_with_dns(&dns).await;
    let (fc, rc, _) = full_and_read_only(&app).await;
    let p = get(&app, G, "/portal/federation", &fc).await;
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/federation",
        &fc,
        &[
            ("csrf", &token),
            ("kind", "oidc"),
            ("name", "corp"),
            ("issuer", "https://idp.corp.example"),
            ("client_id", "tenantry-globex"),
            ("domains", "corp.example"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/federation", &fc).await;
    assert_accessible(&p);
    let row = row_of(&p.body, "corp.example");
    assert!(row.contains("corp.example (not verified)"), "{row}");
    assert!(row.contains(">Check DNS</button>"), "{row}");
    let value = published_value(&p.body, "corp.example");
    assert!(value.starts_with("tenantry-verification="), "{value}");
    let id = first_id(&p.body).expect("connection id");
    let check = |cookie: String, csrf: String| {
        let (app, id) = (&app, id.clone());
        async move {
            post(
                app,
                G,
                "/portal/federation/check-domain",
                &cookie,
                &[("csrf", &csrf), ("id", &id), ("domain", "corp.example")],
            )
            .await
        }
    };

    // Not published yet: refused in place, nothing changed.
    let p = check(fc.clone(), token.clone()).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains("id=\"row-error\""), "{}", p.body);
    assert!(p.body.contains("does not exist in DNS"), "{}", p.body);
    assert!(p.body.contains("corp.example (not verified)"));

    // A read-only admin sees the record but no button, and is refused before DNS is asked.
    let p = get(&app, G, "/portal/federation", &rc).await;
    assert_eq!(published_value(&p.body, "corp.example"), value);
    assert!(!p.body.contains(">Check DNS</button>"));
    let asked = dns.queries.load(Ordering::SeqCst);
    let p = check(rc.clone(), csrf(&p.body)).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert_eq!(dns.queries.load(Ordering::SeqCst), asked);

    // Published: verified.
    dns.txt("_tenantry.corp.example", &value);
    let p = check(fc.clone(), token).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("Domain verified"), "{}", p.body);
    let row = row_of(&p.body, "corp.example");
    assert!(row.contains("corp.example (verified by DNS)"), "{row}");
    assert!(!row.contains("Check DNS"), "{row}");
}

#[tokio::test]
async fn a_saml_metadata_url_is_refused_in_place_by_the_fetch_policy() {
    let app = test_app().await;
    let (fc, _, _) = full_and_read_only(&app).await;
    let p = get(&app, G, "/portal/federation", &fc).await;
    assert!(p.body.contains("id=\"fed-metadata-url\""), "{}", p.body);
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/federation",
        &fc,
        &[
            ("csrf", &token),
            ("kind", "saml"),
            ("name", "saml-corp"),
            ("metadata_url", "http://127.0.0.1:9/md.xml"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("id=\"create-error\""), "{}", p.body);
    assert!(p.body.contains("only https"), "{}", p.body);
    assert!(p.body.contains("value=\"http://127.0.0.1:9/md.xml\""));
    assert_eq!(rows(&p.body), 0);
}
