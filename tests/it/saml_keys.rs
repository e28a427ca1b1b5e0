//! SAML signing certificate rotation (issue 7): `rotate_saml_key` (`tenantry keys rotate
//! --saml`) and rotation by age; the metadata publishes the new and the previous
//! certificate during the overlap, responses are signed with the new key, and the previous
//! certificate is dropped after the overlap.

use crate::saml::{authn_request, redirect_query, sp_metadata, verified_response, world, World};
use crate::saml::{ACS, B64, G, SP, SSO};
use axum::http::StatusCode;
use base64::Engine;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use tenantry::core::audit::Actor;
use tenantry::core::saml::{SAML_OVERLAP, SAML_ROTATE_AFTER};

/// Every signing certificate of the tenant's metadata, in order.
async fn published(w: &World) -> Vec<Vec<u8>> {
    let r = w.app.get(G, "/saml/metadata").await;
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

/// An SSO answer for a fresh request, verified with `cert`; the response XML.
async fn signed_with(w: &World, cert: &[u8], request_id: &str) -> String {
    let q = redirect_query(&authn_request(request_id, SP, SSO, ACS, false), None, None);
    verified_response(&w.sso_get(&q, true).await, cert)
}

fn verifies(xml: &str, cert: &[u8]) -> bool {
    Crypto::verify_signed_xml(
        xml.as_bytes(),
        &CertificateDer::from(cert.to_vec()),
        Some("ID"),
    )
    .is_ok()
}

#[tokio::test]
async fn rotation_publishes_both_certificates_then_drops_the_old_one() {
    let w = world().await;
    w.register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    let before = published(&w).await;
    assert_eq!(before.len(), 1);
    let old = before[0].clone();
    let xml = signed_with(&w, &old, "_k1").await;
    assert!(verifies(&xml, &old));

    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    let id = w
        .app
        .core
        .rotate_saml_key(&t, &Actor::cli(), None)
        .await
        .expect("rotate");
    assert!(id.starts_with("sig_"), "{id}");

    // Both published, the new one first; responses are signed with the new key only.
    let during = published(&w).await;
    assert_eq!(during.len(), 2);
    assert_ne!(during[0], old);
    assert_eq!(during[1], old);
    let new = during[0].clone();
    let xml = signed_with(&w, &new, "_k2").await;
    assert!(!verifies(&xml, &old), "signed with the old key");

    // Still both just before the overlap ends, only the new one after it.
    w.app.clock.advance(SAML_OVERLAP - 1);
    assert_eq!(published(&w).await, vec![new.clone(), old.clone()]);
    w.app.clock.advance(1);
    assert_eq!(published(&w).await, vec![new.clone()]);
}

#[tokio::test]
async fn an_old_key_is_rotated_by_age() {
    let w = world().await;
    let old = published(&w).await;
    assert_eq!(old.len(), 1);
    w.app.clock.advance(SAML_ROTATE_AFTER - 1);
    assert_eq!(published(&w).await, old);
    w.app.clock.advance(1);
    let now = published(&w).await;
    assert_eq!(now.len(), 2);
    assert_ne!(now[0], old[0]);
    assert_eq!(now[1], old[0]);
    // Once: the next look finds the same new key.
    assert_eq!(published(&w).await, now);
}

#[tokio::test]
async fn the_cli_rotates_the_saml_key() {
    let w = world().await;
    let old = published(&w).await;
    let out = w
        .app
        .env
        .command()
        .args(["keys", "rotate", "--tenant", "globex-acme", "--saml"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("\"saml_key\""), "{printed}");
    // Another process rotated: the tenant's version moved, so this process reloads.
    w.app.core.tenants.invalidate();
    // (The binary runs on the system clock, this test on a fixed one, so the overlap is
    // checked above; here: the new certificate signs.)
    let now = published(&w).await;
    assert_ne!(now[0], old[0]);
}
