//! Inbound SAML federation end to end over loopback: tenant `upco`'s SAML IdP (a real
//! tenantry IdP, our SP metadata registered there) signs users in to `downco`, whose SP
//! (samael) verifies the response. Just-in-time creation, the `org_access` attribute mapped
//! to roles at every sign-in, `amr: ["fed"]`; refused: a replayed response, an unsolicited
//! one, a tampered one, and a signature-wrapped one. The clock is the real time here:
//! samael checks the time window by the system clock as well as by ours.

use crate::federation::{origin, world_at, Answer, Browser, World};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::json;
use tenantry::core::audit::Actor;
use tenantry::core::federation::{Kind, NewConnection};

const STD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn saml_world() -> World {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let w = world_at(now).await;
    let mut b = Browser::new(w.port);
    let idp_md = b
        .get(&format!("{}/saml/metadata", origin("upco", w.port)))
        .await;
    assert_eq!(idp_md.status, StatusCode::OK);
    let sp_md = b.get(&w.down("/saml/sp/metadata")).await;
    assert!(
        sp_md.body.contains(&format!(
            "entityID=\"{}/saml/sp\"",
            origin("downco", w.port)
        )),
        "{}",
        sp_md.body
    );
    let up = w.core.find_tenant("upco").await.expect("upco");
    let new = tenantry::saml::parse_sp_metadata(&sp_md.body).expect("our SP metadata parses");
    w.core
        .register_saml_sp(&up, new, &Actor::cli(), None)
        .await
        .expect("register our SP at upco");
    let down = w.core.find_tenant("downco").await.expect("downco");
    w.core
        .create_connection(
            &down,
            NewConnection {
                name: "corpsaml".into(),
                display_name: Some("Corp SAML".into()),
                kind: Kind::Saml,
                issuer: None,
                client_id: None,
                client_secret: None,
                scopes: vec![],
                metadata: Some(idp_md.body),
                metadata_url: None,
                claim: Some("org_access".into()),
                domains: vec![],
                allow_linking: false,
            },
            &Actor::cli(),
            None,
        )
        .await
        .expect("connection");
    w
}

/// Start at downco, sign in at upco with the session there; returns upco's posted form
/// fields (SAMLResponse, RelayState).
pub(crate) async fn to_idp_and_back(w: &World, b: &mut Browser) -> Vec<(String, String)> {
    let login = b.get(&w.down("/login")).await;
    assert!(
        login.body.contains("Sign in with Corp SAML"),
        "{}",
        login.body
    );
    let start = b
        .get(&w.down("/federation/start?connection=corpsaml"))
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    assert!(
        start
            .location
            .starts_with(&format!("{}/saml/sso?SAMLRequest=", origin("upco", w.port))),
        "{}",
        start.location
    );
    b.cookies
        .entry("upco.localhost".into())
        .or_default()
        .insert("tenantry_session".into(), w.up_session.clone());
    let page = b.get(&start.location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mut fields = Vec::new();
    for name in ["SAMLResponse", "RelayState"] {
        let marker = format!("name=\"{name}\" value=\"");
        if let Some(i) = page.body.find(&marker) {
            let rest = &page.body[i + marker.len()..];
            let v = &rest[..rest.find('"').expect("end of value")];
            fields.push((
                name.to_string(),
                v.replace("&#x2B;", "+").replace("&#43;", "+"),
            ));
        }
    }
    assert!(!fields.is_empty(), "{}", page.body);
    fields
}

pub(crate) async fn post_acs(w: &World, fields: &[(String, String)]) -> Answer {
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // The IdP's page posts cross-site: a browser without downco's cookies.
    Browser::new(w.port)
        .post_form(&w.down("/saml/sp/acs"), &form)
        .await
}

fn response_xml(fields: &[(String, String)]) -> String {
    let b64 = &fields
        .iter()
        .find(|(k, _)| k == "SAMLResponse")
        .expect("response")
        .1;
    String::from_utf8(STD.decode(b64).expect("base64")).expect("utf-8")
}

fn with_xml(fields: &[(String, String)], xml: &str) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| match k.as_str() {
            "SAMLResponse" => (k.clone(), STD.encode(xml)),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

async fn mapped(w: &World) -> Vec<String> {
    let t = w.core.find_tenant("downco").await.expect("downco");
    let mut conn = w.core.store.conn().await.expect("conn");
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT m.name FROM user_mapped_roles u JOIN role_mappings m ON m.tenant_id = u.tenant_id \
         AND m.id = u.mapping_id WHERE u.tenant_id = $1 AND u.source = 'federation' ORDER BY 1",
    )
    .bind(t.id.as_str())
    .fetch_all(&mut *conn)
    .await
    .expect("mapped roles");
    rows.into_iter().map(|(n,)| n).collect()
}

#[tokio::test]
async fn upstream_saml_idp_signs_in_with_mapped_roles_and_refuses_forgeries() {
    let w = saml_world().await;
    let users = "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND source = 'federation'";
    let sessions = "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1";
    let fed_sessions = "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1 AND amr = '[\"fed\"]'";

    let mut b = Browser::new(w.port);
    let fields = to_idp_and_back(&w, &mut b).await;
    let done = post_acs(&w, &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location.ends_with("/account"), "{}", done.location);
    assert_eq!(w.count(users, "downco").await, 1, "created just in time");
    assert_eq!(w.count(fed_sessions, "downco").await, 1, "amr fed");
    assert_eq!(mapped(&w).await, ["fed-readers"]);

    // Replayed: the request it answers is used up; nothing changes.
    let before = w.count(sessions, "downco").await;
    let again = post_acs(&w, &fields).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(again.body.contains("error:"), "{}", again.body);
    assert_eq!(w.count(sessions, "downco").await, before);

    // Unsolicited (no InResponseTo): refused before anything is looked up.
    let fresh = to_idp_and_back(&w, &mut Browser::new(w.port)).await;
    let xml = response_xml(&fresh);
    let id = xml
        .split("InResponseTo=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("InResponseTo")
        .to_string();
    let unsolicited = xml.replace(&format!(" InResponseTo=\"{id}\""), "");
    let r = post_acs(&w, &with_xml(&fresh, &unsolicited)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("unsolicited"), "{}", r.body);

    // Tampered: another subject in the signed assertion.
    let fresh = to_idp_and_back(&w, &mut Browser::new(w.port)).await;
    let xml = response_xml(&fresh);
    let tampered = xml.replace("pat@corp.example", "mallory@corp.example");
    assert_ne!(tampered, xml);
    let r = post_acs(&w, &with_xml(&fresh, &tampered)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("response was refused"), "{}", r.body);

    // Signature wrapping: an unsigned assertion for mallory placed before the signed one
    // (same ID), the signed one kept in the document. Only signed content counts.
    let fresh = to_idp_and_back(&w, &mut Browser::new(w.port)).await;
    let xml = response_xml(&fresh);
    let start = xml
        .find("<saml2:Assertion")
        .or_else(|| xml.find("<saml:Assertion"))
        .expect("assertion");
    let end_tag = if xml[start..].starts_with("<saml2:") {
        "</saml2:Assertion>"
    } else {
        "</saml:Assertion>"
    };
    let end = xml.find(end_tag).expect("assertion end") + end_tag.len();
    let signed = &xml[start..end];
    let sig_start = signed.find("<ds:Signature").expect("assertion signature");
    let sig_end = signed.find("</ds:Signature>").expect("signature end") + "</ds:Signature>".len();
    let evil = format!("{}{}", &signed[..sig_start], &signed[sig_end..])
        .replace("pat@corp.example", "mallory@corp.example");
    let wrapped = format!("{}{evil}{}", &xml[..start], &xml[start..]);
    let r = post_acs(&w, &with_xml(&fresh, &wrapped)).await;
    let mallory =
        "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND email = 'mallory@corp.example'";
    assert_eq!(
        w.count(mallory, "downco").await,
        0,
        "the wrapped assertion never counts"
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("response was refused"), "{}", r.body);
    assert_eq!(w.count(users, "downco").await, 1);

    // Upstream, pat becomes org full: the next sign-in maps to the other role.
    let (s, v) = w
        .api(
            "upco",
            "PATCH",
            &format!("/api/v1/orgs/upco/admins/{}", w.up_membership),
            &w.up_key,
            json!({"org_access": "full"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let fields = to_idp_and_back(&w, &mut Browser::new(w.port)).await;
    let done = post_acs(&w, &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        w.count(users, "downco").await,
        1,
        "linked by NameID, not created again"
    );
    assert_eq!(mapped(&w).await, ["fed-owners"]);
}
