//! SAML signing certificate rotation (issue 7): `rotate_saml_key` (`tenantry keys rotate
//! --saml`) and rotation by age; the metadata publishes the new and the previous
//! certificate during the overlap, responses are signed with the new key, and the previous
//! certificate is dropped after the overlap. The same through the admin API
//! (`POST /api/v1/orgs/{org}/keys/rotate?kind=saml`, org full, audited with the caller) and
//! the listing of the published certificates (`GET /api/v1/orgs/{org}/keys?kind=saml`).

use crate::saml::{authn_request, redirect_query, sp_metadata, verified_response, world, World};
use crate::saml::{ACS, B64, G, SP, SSO};
use axum::http::StatusCode;
use base64::Engine;
use openssl::hash::MessageDigest;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;
use tenantry::clock::{rfc3339, Clock};
use tenantry::core::audit::Actor;
use tenantry::core::saml::{SAML_OVERLAP, SAML_ROTATE_AFTER};

/// Every signing certificate of the tenant's metadata, in order.
async fn published(w: &World) -> Vec<Vec<u8>> {
    published_at(w, G).await
}

/// Every signing certificate of the metadata on `host`, in order.
async fn published_at(w: &World, host: &str) -> Vec<Vec<u8>> {
    let r = w.app.get(host, "/saml/metadata").await;
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

const I: &str = "initech-acme.localhost:8080";
const KEYS: &str = "/api/v1/orgs/globex-acme/keys";
const ROTATE: &str = "/api/v1/orgs/globex-acme/keys/rotate";

/// SHA-256 of a DER certificate as `openssl x509 -fingerprint -sha256` prints it.
fn fingerprint(der: &[u8]) -> String {
    openssl::hash::hash(MessageDigest::sha256(), der)
        .expect("hash")
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The validity of a DER certificate in RFC 3339, read with openssl.
fn validity(der: &[u8]) -> (String, String) {
    let x = openssl::x509::X509::from_der(der).expect("certificate");
    let epoch = openssl::asn1::Asn1Time::from_unix(0).expect("epoch");
    let unix = |t: &openssl::asn1::Asn1TimeRef| {
        let d = epoch.diff(t).expect("diff");
        rfc3339(i64::from(d.days) * 86_400 + i64::from(d.secs))
    };
    (unix(x.not_before()), unix(x.not_after()))
}

/// The audit entries of globex with this action, newest first.
async fn audited(w: &World, key: &str, action: &str) -> Vec<Value> {
    let (st, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/audit?limit=500",
            Some(key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_admin_api_rotates_and_lists_the_saml_certificates() {
    let w = world().await;
    w.register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    let full = w
        .app
        .admin(
            "globex-acme",
            "root@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let reader = w
        .app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let saml_list = format!("{KEYS}?kind=saml");
    // No certificate before SAML is first used; listing does not make one.
    let (st, v, _) = w
        .app
        .api("GET", G, &saml_list, Some(&reader.key), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"items": [], "next_cursor": null}));
    let old = published(&w).await;
    assert_eq!(old.len(), 1);
    let old = old[0].clone();
    let other = published_at(&w, I).await;

    let (st, v, _) = w
        .app
        .api("GET", G, &saml_list, Some(&reader.key), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{v}");
    let (not_before, not_after) = validity(&old);
    assert_eq!(items[0]["kind"], "saml");
    assert_eq!(items[0]["state"], "active");
    assert_eq!(items[0]["fingerprint_sha256"], fingerprint(&old));
    assert_eq!(items[0]["not_before"], not_before.as_str());
    assert_eq!(items[0]["not_after"], not_after.as_str());
    assert_eq!(items[0]["published_until"], Value::Null);
    assert_eq!(items[0]["certificate"], B64.encode(&old));
    let old_id = items[0]["id"].as_str().expect("id").to_string();
    assert!(old_id.starts_with("sig_"), "{old_id}");

    // Without org full: refused in the API's error format, nothing changed.
    let (st, err, _) = w
        .app
        .api(
            "POST",
            G,
            &format!("{ROTATE}?kind=saml"),
            Some(&reader.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{err}");
    assert_eq!(err["error"]["code"], "org_full_required");
    assert_eq!(
        err["error"]["message"],
        "only admins with org full access may rotate the SAML signing certificate"
    );
    assert_eq!(published(&w).await, vec![old.clone()]);
    // A SAML certificate always signs at once: `immediate` is refused, not ignored.
    let (st, err, _) = w
        .app
        .api(
            "POST",
            G,
            &format!("{ROTATE}?kind=saml&immediate=true"),
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"]["code"], "invalid_immediate");
    let (st, err, _) = w
        .app
        .api(
            "POST",
            G,
            &format!("{ROTATE}?kind=x509"),
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(published(&w).await, vec![old.clone()]);

    // Org full: a new certificate, returned with its fingerprint and validity.
    let t0 = w.app.clock.now();
    let (st, v, _) = w
        .app
        .api(
            "POST",
            G,
            &format!("{ROTATE}?kind=saml"),
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let cert = &v["certificate"];
    let new_id = cert["id"].as_str().expect("id").to_string();
    assert_eq!(v["keys"], json!([new_id]));
    assert_ne!(new_id, old_id);
    assert_eq!(cert["state"], "active");
    let new = B64
        .decode(cert["certificate"].as_str().expect("certificate"))
        .expect("base64");
    assert_eq!(cert["fingerprint_sha256"], fingerprint(&new));
    assert_eq!(cert["not_after"], validity(&new).1.as_str());

    // The metadata publishes both during the overlap, the new one first; the listing
    // says so; responses are signed by the new key only.
    assert_eq!(published(&w).await, vec![new.clone(), old.clone()]);
    let (_, v, _) = w
        .app
        .api("GET", G, &saml_list, Some(&reader.key), None)
        .await;
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!(items[0]["id"], new_id.as_str());
    assert_eq!(items[0]["published_until"], Value::Null);
    assert_eq!(items[1]["id"], old_id.as_str());
    assert_eq!(items[1]["state"], "retired");
    assert_eq!(items[1]["fingerprint_sha256"], fingerprint(&old));
    assert_eq!(
        items[1]["published_until"],
        rfc3339(t0 + SAML_OVERLAP).as_str()
    );
    let xml = signed_with(&w, &new, "_a1").await;
    assert!(!verifies(&xml, &old), "signed with the old key");

    // Audited with the caller.
    let entries = audited(&w, &full.key, "saml_key.rotate").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], full.user_id.as_str());
    assert_eq!(entries[0]["target"], format!("key:{new_id}"));

    // Another tenant is unaffected, and its listing is not reachable from this host.
    assert_eq!(published_at(&w, I).await, other);
    let (st, _, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/initech-acme/keys?kind=saml",
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/initech-acme/keys/rotate?kind=saml",
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(published_at(&w, I).await, other);

    // After the overlap the listing, like the metadata, has only the new certificate.
    w.app.clock.advance(SAML_OVERLAP);
    let (_, v, _) = w
        .app
        .api("GET", G, &saml_list, Some(&reader.key), None)
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["items"][0]["id"], new_id.as_str());
    assert_eq!(published(&w).await, vec![new]);
}

#[tokio::test]
async fn the_key_listing_shows_both_kinds_and_token_key_rotation_is_audited_with_the_caller() {
    let w = world().await;
    let full = w
        .app
        .admin(
            "globex-acme",
            "root@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    published(&w).await;
    let (st, v, _) = w.app.api("GET", G, KEYS, Some(&full.key), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    let jwt: Vec<&Value> = items.iter().filter(|k| k["kind"] == "jwt").collect();
    let saml: Vec<&Value> = items.iter().filter(|k| k["kind"] == "saml").collect();
    assert_eq!(saml.len(), 1, "{v}");
    assert!(jwt.len() >= 3, "one key per algorithm: {v}");
    assert!(jwt.iter().all(|k| k["state"] == "active"), "{v}");
    assert_eq!(jwt.len() + saml.len(), items.len());
    // The JWKS publishes exactly the listed token keys.
    let jwks = w.app.get(G, "/.well-known/jwks.json").await;
    let jwks: Value = serde_json::from_str(&jwks.body).expect("jwks");
    let mut kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    let mut listed: Vec<&str> = jwt.iter().filter_map(|k| k["id"].as_str()).collect();
    kids.sort_unstable();
    listed.sort_unstable();
    assert_eq!(kids, listed);
    let (_, only, _) = w
        .app
        .api("GET", G, &format!("{KEYS}?kind=jwt"), Some(&full.key), None)
        .await;
    assert_eq!(only["items"].as_array().map(Vec::len), Some(jwt.len()));
    let (st, _, _) = w
        .app
        .api(
            "GET",
            G,
            &format!("{KEYS}?kind=x509"),
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Token keys rotated through the API: `next` keys listed beside the active ones,
    // audited with the caller.
    let (st, v, _) = w.app.api("POST", G, ROTATE, Some(&full.key), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, after, _) = w
        .app
        .api("GET", G, &format!("{KEYS}?kind=jwt"), Some(&full.key), None)
        .await;
    let after = after["items"].as_array().expect("items");
    assert_eq!(after.len(), jwt.len() * 2);
    assert_eq!(
        after.iter().filter(|k| k["state"] == "next").count(),
        jwt.len()
    );
    let entries = audited(&w, &full.key, "keys.rotate").await;
    assert_eq!(entries.len(), jwt.len());
    assert!(entries.iter().all(|e| e["actor"] == full.user_id.as_str()));
}
