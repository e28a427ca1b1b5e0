//! The integration pages: SCIM tokens and OIDC applications (the secret shown once),
//! SAML service providers from pasted metadata, signing keys (rotate). Each is driven
//! through its form with the CSRF token, refuses a read-only admin in place and answers
//! "not found" for another tenant's object.

use super::{assert_accessible, csrf, first_id, full_and_read_only, get, post, row_of, rows, G, I};
use crate::support::test_app;
use axum::http::StatusCode;

/// The text of the element with this id.
fn text_of(body: &str, id: &str) -> String {
    let at = body.find(&format!("id=\"{id}\"")).expect("element");
    let rest = &body[at..];
    let start = rest.find('>').expect("tag") + 1;
    rest[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn scim_tokens_are_shown_once_and_revoked() {
    let app = test_app().await;
    let (fc, rc, other) = full_and_read_only(&app).await;
    let globex = app.core.find_tenant("globex-acme").await.expect("t");
    let p = get(&app, G, "/portal/scim-tokens", &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/scim-tokens",
        &fc,
        &[("csrf", &token), ("name", "entra")],
    )
    .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert_accessible(&p);
    let secret = text_of(&p.body, "new-token");
    assert!(secret.starts_with("tnt_scim_"), "{secret}");
    assert!(p.body.contains("http://globex-acme.localhost:8080/scim/v2"));
    let id = app
        .core
        .authenticate_scim_token(&globex, &secret)
        .await
        .expect("auth")
        .expect("the token works");
    // Never shown again.
    let p = get(&app, G, "/portal/scim-tokens", &fc).await;
    assert!(!p.body.contains(&secret));
    assert!(row_of(&p.body, "entra").contains(&id));

    // Read-only: listed, no form, a POST refused in place.
    let p = get(&app, G, "/portal/scim-tokens", &rc).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(row_of(&p.body, "entra").contains(&id));
    assert!(!p.body.contains("Create a token") && !p.body.contains("Revoke"));
    let rt = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/scim-tokens/revoke",
        &rc,
        &[("csrf", &rt), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may revoke SCIM tokens"));
    let p = post(
        &app,
        G,
        "/portal/scim-tokens",
        &rc,
        &[("csrf", &rt), ("name", "x")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    // Another tenant's token: not found, and it keeps working.
    let (st, body, _) = app
        .api(
            "POST",
            I,
            "/api/v1/orgs/initech-acme/scim-tokens",
            Some(&other),
            Some(serde_json::json!({"name": "theirs"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let theirs = body["id"].as_str().expect("id").to_string();
    let p = post(
        &app,
        G,
        "/portal/scim-tokens/revoke",
        &fc,
        &[("csrf", &token), ("id", &theirs)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let initech = app.core.find_tenant("initech-acme").await.expect("t");
    let their_secret = body["token"].as_str().expect("token");
    assert!(app
        .core
        .authenticate_scim_token(&initech, their_secret)
        .await
        .expect("auth")
        .is_some());

    let p = post(
        &app,
        G,
        "/portal/scim-tokens/revoke",
        &fc,
        &[("csrf", &token), ("id", &id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(app
        .core
        .authenticate_scim_token(&globex, &secret)
        .await
        .expect("auth")
        .is_none());
}

#[tokio::test]
async fn oidc_applications_are_registered_with_the_secret_once_and_deleted() {
    let app = test_app().await;
    let (fc, rc, other) = full_and_read_only(&app).await;
    let p = get(&app, G, "/portal/clients", &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/clients",
        &fc,
        &[
            ("csrf", &token),
            ("name", "Wiki"),
            ("auth_method", "client_secret_basic"),
            ("redirect_uris", "https://wiki.example.com/cb\n"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let client_id = text_of(&p.body, "new-client-id");
    let secret = text_of(&p.body, "new-secret");
    assert!(secret.len() >= 20, "{secret}");
    let p = get(&app, G, "/portal/clients", &fc).await;
    assert!(!p.body.contains(&secret));
    let row = row_of(&p.body, "Wiki");
    assert!(
        row.contains(&client_id) && row.contains("https://wiki.example.com/cb"),
        "{row}"
    );
    // A bad redirect URI: core's error in place, typed values kept.
    let p = post(
        &app,
        G,
        "/portal/clients",
        &fc,
        &[
            ("csrf", &token),
            ("name", "Bad"),
            ("redirect_uris", "not a uri"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("id=\"create-error\""));
    assert!(p.body.contains("value=\"Bad\""));

    // Read-only: refused; another tenant's client: not found.
    let rt = csrf(&get(&app, G, "/portal/clients", &rc).await.body);
    let p = post(
        &app,
        G,
        "/portal/clients/delete",
        &rc,
        &[("csrf", &rt), ("id", &client_id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may delete clients"));
    let (st, body, _) = app
        .api(
            "POST",
            I,
            "/api/v1/orgs/initech-acme/clients",
            Some(&other),
            Some(serde_json::json!({"name": "theirs", "redirect_uris": ["https://x.example.com/cb"]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let theirs = body["id"].as_str().expect("id");
    let p = post(
        &app,
        G,
        "/portal/clients/delete",
        &fc,
        &[("csrf", &token), ("id", theirs)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);

    let p = post(
        &app,
        G,
        "/portal/clients/delete",
        &fc,
        &[("csrf", &token), ("id", &client_id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("Application deleted.") && !p.body.contains(&client_id));
}

fn metadata(entity: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"https://app.example.com/saml/acs\" index=\"0\" isDefault=\"true\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>"
    )
}

#[tokio::test]
async fn saml_service_providers_are_added_from_pasted_metadata_and_removed() {
    let app = test_app().await;
    let (fc, rc, other) = full_and_read_only(&app).await;
    let p = get(&app, G, "/portal/saml-sps", &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    let token = csrf(&p.body);
    let xml = metadata("https://app.example.com/sp");
    let p = post(
        &app,
        G,
        "/portal/saml-sps",
        &fc,
        &[("csrf", &token), ("metadata", &xml)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("Service provider added."));
    assert!(
        row_of(&p.body, "https://app.example.com/sp").contains("https://app.example.com/saml/acs")
    );
    // Not metadata: the error in place, the text kept, nothing added.
    let p = post(
        &app,
        G,
        "/portal/saml-sps",
        &fc,
        &[("csrf", &token), ("metadata", "<nope/>")],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("id=\"create-error\""));
    assert!(p.body.contains("&lt;nope/&gt;</textarea>"));
    assert_eq!(rows(&p.body), 1);

    // Read-only: listed, refused in place.
    let p = get(&app, G, "/portal/saml-sps", &rc).await;
    assert_eq!(rows(&p.body), 1);
    assert!(!p.body.contains("Add a service provider"));
    let rt = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/saml-sps",
        &rc,
        &[
            ("csrf", &rt),
            ("metadata", &metadata("https://b.example.com/sp")),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may register service providers"));
    // Another tenant's service provider: not found.
    let (st, body, _) = app
        .api(
            "POST",
            I,
            "/api/v1/orgs/initech-acme/saml-sps",
            Some(&other),
            Some(serde_json::json!({"metadata": metadata("https://theirs.example.com/sp")})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let theirs = body["id"].as_str().expect("id");
    let p = post(
        &app,
        G,
        "/portal/saml-sps/delete",
        &fc,
        &[("csrf", &token), ("id", theirs)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Removed.
    let p = get(&app, G, "/portal/saml-sps", &fc).await;
    let ours = first_id(&p.body).expect("id");
    let p = post(
        &app,
        G,
        "/portal/saml-sps/delete",
        &fc,
        &[("csrf", &token), ("id", &ours)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, "/portal/saml-sps", &fc).await;
    assert_eq!(rows(&p.body), 0);
}

#[tokio::test]
async fn signing_keys_are_listed_and_rotated() {
    let app = test_app().await;
    let (fc, rc, _) = full_and_read_only(&app).await;
    let p = get(&app, G, "/portal/keys", &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    let before = rows(&p.body);
    assert!(before >= 3, "one key per algorithm");
    assert_eq!(p.body.matches("<td>signs now</td>").count(), before);
    let token = csrf(&p.body);
    let p = post(&app, G, "/portal/keys", &fc, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&app, G, &p.location.expect("back"), &fc).await;
    assert!(p.body.contains("New signing keys created and published."));
    assert_eq!(
        rows(&p.body),
        before * 2,
        "new keys published beside the old"
    );
    assert_eq!(
        p.body.matches("<td>signs now</td>").count(),
        before,
        "the old ones sign until the caches caught up"
    );

    // Read-only: listed, refused in place; another tenant: not found.
    let p = get(&app, G, "/portal/keys", &rc).await;
    assert_eq!(rows(&p.body), before * 2);
    assert!(!p.body.contains("Rotate signing keys"));
    let rt = csrf(&p.body);
    let p = post(&app, G, "/portal/keys", &rc, &[("csrf", &rt)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("only admins with org full access may rotate signing keys"));
    assert_eq!(rows(&p.body), before * 2);
    let p = post(
        &app,
        G,
        "/portal/keys",
        &fc,
        &[("csrf", &token), ("org", "initech-acme")],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}
