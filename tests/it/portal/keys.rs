//! The signing keys page's SAML half: the certificates the SAML metadata publishes (with
//! fingerprint, validity and state) listed beside the token keys, and "Rotate SAML
//! certificate" through its form with the CSRF token: org full only (refused in place at
//! that form), the previous certificate kept in the metadata for the overlap, another
//! tenant's organization not found and unaffected.

use super::{assert_accessible, csrf, full_and_read_only, get, post, row_of, send, G, I};
use crate::support::{test_app, TestApp};
use axum::http::StatusCode;
use base64::Engine;
use openssl::hash::MessageDigest;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Every signing certificate of the metadata on `host`, in order.
async fn published(app: &TestApp, host: &str) -> Vec<Vec<u8>> {
    let r = app.get(host, "/saml/metadata").await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
        .split("<ds:X509Certificate>")
        .skip(1)
        .map(|s| {
            B64.decode(s.split('<').next().expect("end"))
                .expect("base64")
        })
        .collect()
}

/// SHA-256 of a DER certificate as `openssl x509 -fingerprint -sha256` prints it.
fn fingerprint(der: &[u8]) -> String {
    openssl::hash::hash(MessageDigest::sha256(), der)
        .expect("hash")
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The rows of the SAML certificates' table.
fn saml_rows(body: &str) -> usize {
    let table = body
        .split("<caption>SAML signing certificates")
        .nth(1)
        .expect("the SAML table");
    let table = table.split("</table>").next().unwrap_or_default();
    table.matches("<tr><th scope=\"row\">").count()
}

#[tokio::test]
async fn saml_certificates_are_listed_and_rotated() {
    let app = test_app().await;
    let (fc, rc, _) = full_and_read_only(&app).await;
    // Before SAML is first used: an empty table that says why, and the form.
    let p = get(&app, G, "/portal/keys", &fc).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert_eq!(saml_rows(&p.body), 0);
    assert!(p.body.contains("No SAML certificate yet"), "{}", p.body);
    assert!(p.body.contains("Rotate SAML certificate"));
    assert!(p
        .body
        .contains("<code>http://globex-acme.localhost:8080/saml/metadata</code>"));

    let old = published(&app, G).await;
    assert_eq!(old.len(), 1);
    let old = old[0].clone();
    let other = published(&app, I).await;
    let p = get(&app, G, "/portal/keys", &fc).await;
    assert_eq!(saml_rows(&p.body), 1);
    let row = row_of(&p.body, &fingerprint(&old));
    assert!(row.contains("<td>signs now</td>"), "{row}");
    assert_eq!(
        p.body.matches("<td>signs now</td>").count(),
        4,
        "three token keys and the SAML certificate"
    );

    // Rotate: back to the page with the news; both certificates listed and published,
    // the new one signing.
    let token = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/keys",
        &fc,
        &[("csrf", &token), ("kind", "saml")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let to = p.location.expect("back");
    assert_eq!(to, "/portal/keys?org=globex-acme&done=saml-rotated");
    let p = get(&app, G, &to, &fc).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_accessible(&p);
    assert!(
        p.body.contains("New SAML signing certificate created"),
        "{}",
        p.body
    );
    let now = published(&app, G).await;
    assert_eq!(now.len(), 2);
    assert_eq!(now[1], old);
    let new = now[0].clone();
    assert_eq!(saml_rows(&p.body), 2);
    assert!(row_of(&p.body, &fingerprint(&new)).contains("<td>signs now</td>"));
    let row = row_of(&p.body, &fingerprint(&old));
    assert!(row.contains("<td>in the metadata until "), "{row}");
    // The token keys were not touched.
    assert_eq!(p.body.matches("<td>signs now</td>").count(), 4);
    assert!(!p.body.contains("published (next or retiring)"));

    // Read-only: listed, no form, refused in place at the SAML form; nothing changed.
    let p = get(&app, G, "/portal/keys", &rc).await;
    assert_eq!(saml_rows(&p.body), 2);
    assert!(!p.body.contains("Rotate SAML certificate"));
    let rt = csrf(&p.body);
    let p = post(
        &app,
        G,
        "/portal/keys",
        &rc,
        &[("csrf", &rt), ("kind", "saml")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_accessible(&p);
    assert!(
        p.body.contains(
            "<p id=\"rotate-saml-error\" class=\"error\" role=\"alert\">error: \
             only admins with org full access may rotate the SAML signing certificate</p>"
        ),
        "{}",
        p.body
    );
    assert!(!p.body.contains("id=\"rotate-error\""));
    assert_eq!(saml_rows(&p.body), 2);
    assert_eq!(published(&app, G).await, now);

    // Without the CSRF token, or from another origin: refused, nothing changed.
    let p = post(&app, G, "/portal/keys", &fc, &[("kind", "saml")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    let p = send(
        &app,
        "POST",
        G,
        "/portal/keys",
        Some(&fc),
        Some("http://evil.example"),
        Some(&[("csrf", &token), ("kind", "saml")]),
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert_eq!(published(&app, G).await, now);

    // Another tenant's organization: not found, its certificate unchanged.
    let p = post(
        &app,
        G,
        "/portal/keys",
        &fc,
        &[("csrf", &token), ("kind", "saml"), ("org", "initech-acme")],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(published(&app, I).await, other);
    assert_eq!(published(&app, G).await, now);
}
