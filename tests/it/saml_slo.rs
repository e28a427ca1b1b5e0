//! SAML single logout at `/saml/slo` (issue 7): SP-initiated LogoutRequests over
//! HTTP-Redirect and HTTP-POST end the named sessions and answer a signed LogoutResponse
//! at the SP's SingleLogoutService (HTTP-POST form, or HTTP-Redirect with a query
//! signature); every refusal shows an error page and ends nothing.

use crate::saml::{
    assert_refused, enc, form_value, redirect_query, sp_key, world, SpKey, World, ACS, B64, G,
    ISSUER, SP,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use std::io::Read;
use tenantry::core::audit::Actor;

const SLO: &str = "http://globex-acme.localhost:8080/saml/slo";
const SP_SLO: &str = "https://app.example.com/saml/slo";

/// SP metadata with a SingleLogoutService of `binding` ("POST" or "Redirect").
fn metadata(cert: Option<&[u8]>, signed: bool, binding: Option<&str>) -> String {
    let key = cert
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
                 <ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                B64.encode(c)
            )
        })
        .unwrap_or_default();
    let slo = binding
        .map(|b| {
            format!(
                "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-{b}\" Location=\"{SP_SLO}\"/>"
            )
        })
        .unwrap_or_default();
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{SP}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"{signed}\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{key}{slo}\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{ACS}\" index=\"0\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>"
    )
}

fn logout_request(
    id: &str,
    issuer: &str,
    destination: &str,
    name_id: Option<&str>,
    indexes: &[&str],
    sign: bool,
) -> String {
    let sig = if sign {
        format!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
             <ds:Reference URI=\"#{id}\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>\
             </ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"
        )
    } else {
        String::new()
    };
    let name = name_id
        .map(|n| {
            format!(
                "<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{n}</saml:NameID>"
            )
        })
        .unwrap_or_default();
    let idx: String = indexes
        .iter()
        .map(|i| format!("<samlp:SessionIndex>{i}</samlp:SessionIndex>"))
        .collect();
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"2027-01-15T08:00:00Z\" Destination=\"{destination}\">\
         <saml:Issuer>{issuer}</saml:Issuer>{sig}{name}{idx}</samlp:LogoutRequest>"
    )
}

impl World {
    async fn slo_get(&self, query: &str, cookie: Option<&str>) -> crate::support::Reply {
        let mut req = Request::get(format!("/saml/slo?{query}")).header("host", G);
        if let Some(c) = cookie {
            req = req.header(
                "cookie",
                format!("{}={c}", self.app.core.session_cookie_name()),
            );
        }
        self.app
            .request(req.body(Body::empty()).expect("request"))
            .await
    }

    async fn slo_post(&self, xml: &str) -> crate::support::Reply {
        let body = format!("SAMLRequest={}&RelayState=bye", enc(&B64.encode(xml)));
        self.app
            .request(
                Request::post("/saml/slo")
                    .header("host", G)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(body))
                    .expect("request"),
            )
            .await
    }

    /// A fresh session of the world's user: (session id, cookie).
    async fn session(&self) -> (String, String) {
        let t = self.app.core.find_tenant("globex-acme").await.expect("t");
        let (s, cookie) = self
            .app
            .core
            .create_session(&t, &self.user_id, &["webauthn"], None)
            .await
            .expect("session");
        (s.id, cookie)
    }

    async fn alive(&self, session: &str) -> bool {
        let t = self.app.core.find_tenant("globex-acme").await.expect("t");
        self.app
            .core
            .session_by_id(&t, session)
            .await
            .expect("lookup")
            .is_some()
    }

    async fn cookie_session(&self) -> String {
        let t = self.app.core.find_tenant("globex-acme").await.expect("t");
        self.app
            .core
            .session_from_cookie(&t, &self.cookie)
            .await
            .expect("lookup")
            .expect("session")
            .id
    }
}

/// The LogoutResponse of a POST answer page, its signature verified with the IdP's cert.
fn verified_logout_response(r: &crate::support::Reply, cert: &[u8], request_id: &str) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(&format!("action=\"{SP_SLO}\"")),
        "{}",
        r.body
    );
    let csp = r.headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("form-action https://app.example.com"), "{csp}");
    let xml = String::from_utf8(
        B64.decode(form_value(&r.body, "SAMLResponse").expect("SAMLResponse"))
            .expect("base64"),
    )
    .expect("utf-8");
    Crypto::verify_signed_xml(
        xml.as_bytes(),
        &CertificateDer::from(cert.to_vec()),
        Some("ID"),
    )
    .expect("LogoutResponse signature");
    for needle in [
        format!("InResponseTo=\"{request_id}\""),
        format!("Destination=\"{SP_SLO}\""),
        format!("<saml:Issuer>{ISSUER}</saml:Issuer>"),
        "urn:oasis:names:tc:SAML:2.0:status:Success".to_string(),
        "<samlp:LogoutResponse".to_string(),
    ] {
        assert!(xml.contains(&needle), "{needle} missing in {xml}");
    }
    xml
}

fn clears_cookie(r: &crate::support::Reply) -> bool {
    r.headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("tenantry_session=;") && v.contains("Max-Age=0"))
}

#[tokio::test]
async fn metadata_names_the_slo_endpoint() {
    let w = world().await;
    let r = w.app.get(G, "/saml/metadata").await;
    for b in ["HTTP-Redirect", "HTTP-POST"] {
        let needle = format!(
            "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{b}\" Location=\"{SLO}\"/>"
        );
        assert!(r.body.contains(&needle), "{needle} in {}", r.body);
    }
}

#[tokio::test]
async fn logout_over_redirect_ends_the_session_and_answers_by_post() {
    let w = world().await;
    let sp = w
        .register("globex-acme", &metadata(None, false, Some("POST")))
        .await;
    assert_eq!(sp.slo[0].location, SP_SLO);
    let cert = w.idp_cert().await;
    let session = w.cookie_session().await;
    let (other, _) = w.session().await;
    let q = redirect_query(
        &logout_request("_l1", SP, SLO, Some(&w.user_id), &[&session], false),
        Some("after"),
        None,
    );
    let r = w.slo_get(&q, Some(&w.cookie)).await;
    verified_logout_response(&r, &cert, "_l1");
    assert_eq!(form_value(&r.body, "RelayState").as_deref(), Some("after"));
    assert!(clears_cookie(&r), "{:?}", r.headers);
    assert!(!w.alive(&session).await, "the named session ended");
    assert!(
        w.alive(&other).await,
        "an unsigned request ends only what it names"
    );
    assert_eq!(
        w.sso_get("pending=saml-nothing", true).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn logout_over_post_by_session_index_without_the_cookie() {
    let w = world().await;
    w.register("globex-acme", &metadata(None, false, Some("POST")))
        .await;
    let cert = w.idp_cert().await;
    let (session, _) = w.session().await;
    let r = w
        .slo_post(&logout_request(
            "_l2",
            SP,
            SLO,
            Some(&w.user_id),
            &[&session],
            false,
        ))
        .await;
    verified_logout_response(&r, &cert, "_l2");
    assert_eq!(form_value(&r.body, "RelayState").as_deref(), Some("bye"));
    assert!(!w.alive(&session).await);
    assert!(w.alive(&w.cookie_session().await).await);
}

#[tokio::test]
async fn logout_answers_by_redirect_with_a_query_signature() {
    let w = world().await;
    w.register("globex-acme", &metadata(None, false, Some("Redirect")))
        .await;
    let cert = w.idp_cert().await;
    let session = w.cookie_session().await;
    let q = redirect_query(
        &logout_request("_l3", SP, SLO, Some(&w.user_id), &[], false),
        Some("rs"),
        None,
    );
    let r = w.slo_get(&q, Some(&w.cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(!w.alive(&session).await, "the browser's own session ended");
    let loc = r.headers["location"].to_str().expect("location");
    let query = loc
        .strip_prefix(&format!("{SP_SLO}?"))
        .expect("to the SP's SLO");
    let (signed, sig) = query.split_once("&Signature=").expect("signed");
    assert!(signed.starts_with("SAMLResponse="), "{query}");
    assert!(
        signed.contains(
            "&RelayState=rs&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"
        ),
        "{query}"
    );
    let sig: String = url::form_urlencoded::parse(format!("s={sig}").as_bytes())
        .next()
        .expect("sig")
        .1
        .into_owned();
    let x509 = openssl::x509::X509::from_der(&cert).expect("cert");
    let key = x509.public_key().expect("key");
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)
        .expect("verifier");
    v.update(signed.as_bytes()).expect("update");
    assert!(v.verify(&B64.decode(sig).expect("b64")).expect("verify"));
    let encoded: String = url::form_urlencoded::parse(signed.as_bytes())
        .find(|(k, _)| k == "SAMLResponse")
        .expect("SAMLResponse")
        .1
        .into_owned();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(B64.decode(encoded).expect("b64").as_slice())
        .read_to_string(&mut xml)
        .expect("inflate");
    assert!(xml.contains("InResponseTo=\"_l3\""), "{xml}");
    assert!(xml.contains(":status:Success"), "{xml}");
}

#[tokio::test]
async fn signed_logout_without_session_index_ends_every_session_of_the_user() {
    let w = world().await;
    let key = sp_key();
    w.register(
        "globex-acme",
        &metadata(Some(&key.cert_der), true, Some("POST")),
    )
    .await;
    let cert = w.idp_cert().await;
    let (a, _) = w.session().await;
    let (b, _) = w.session().await;
    // Somebody else's session stays.
    let other = w
        .app
        .admin(
            "globex-acme",
            "kim@globex.example",
            Some(tenantry::authz::OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let (kim, _) = w
        .app
        .core
        .create_session(&t, &other.user_id, &["webauthn"], None)
        .await
        .expect("session");
    let q = redirect_query(
        &logout_request("_l4", SP, SLO, Some(&w.user_id), &[], false),
        None,
        Some(&key),
    );
    verified_logout_response(&w.slo_get(&q, None).await, &cert, "_l4");
    assert!(!w.alive(&a).await && !w.alive(&b).await);
    assert!(w.alive(&kim.id).await);
    // An embedded signature over HTTP-POST works as well.
    let (c, _) = w.session().await;
    let signed = Crypto::sign_xml(
        logout_request("_l5", SP, SLO, Some(&w.user_id), &[&c], true),
        &key.key_der,
    )
    .expect("sign");
    verified_logout_response(&w.slo_post(&signed).await, &cert, "_l5");
    assert!(!w.alive(&c).await);
}

async fn refused_and_alive(w: &World, r: crate::support::Reply, why: &str, sessions: &[&str]) {
    assert_refused(&r, why);
    assert!(
        r.headers.get("set-cookie").is_none(),
        "{why}: no cookie change"
    );
    for s in sessions {
        assert!(w.alive(s).await, "{why}: session {s} must survive");
    }
}

#[tokio::test]
async fn bad_logout_requests_are_refused_and_end_nothing() {
    let w = world().await;
    let key: SpKey = sp_key();
    w.register(
        "globex-acme",
        &metadata(Some(&key.cert_der), true, Some("POST")),
    )
    .await;
    // initech registers the same SP: a request meant for initech must not work here.
    w.register("initech-acme", &metadata(None, false, Some("POST")))
        .await;
    let s = w.cookie_session().await;
    let me = w.user_id.clone();
    let ok = |id: &str, issuer: &str, dest: &str| {
        redirect_query(
            &logout_request(id, issuer, dest, Some(&me), &[&s], false),
            None,
            Some(&key),
        )
    };
    let cookie = Some(w.cookie.as_str());
    let live = [s.as_str()];
    let cases: Vec<(String, &str)> = vec![
        (
            ok("_b1", "https://evil.example/saml", SLO),
            "unknown service provider",
        ),
        (
            ok("_b2", SP, "http://initech-acme.localhost:8080/saml/slo"),
            "SLO URL",
        ),
        (
            ok("_b3", SP, "http://globex-acme.localhost:8080/saml/sso"),
            "Destination",
        ),
        (
            redirect_query(
                &logout_request("_b4", SP, SLO, Some(&me), &[&s], false),
                None,
                None,
            ),
            "must be signed",
        ),
        (
            redirect_query(
                &logout_request("_b5", SP, SLO, Some(&me), &[&s], false),
                None,
                Some(&sp_key()),
            ),
            "signature does not verify",
        ),
        (
            redirect_query(
                &logout_request("_b6", SP, SLO, None, &[&s], false),
                None,
                Some(&key),
            ),
            "names no NameID",
        ),
        (
            redirect_query(
                &format!(
                    "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e \"x\">]>{}",
                    logout_request("_b7", SP, SLO, Some(&me), &[&s], false)
                ),
                None,
                Some(&key),
            ),
            "DTD",
        ),
        (
            redirect_query(
                &crate::saml::authn_request("_b8", SP, SLO, ACS, false),
                None,
                Some(&key),
            ),
            "not a SAML 2.0 LogoutRequest",
        ),
        (
            "SAMLResponse=abc".to_string(),
            "LogoutResponse is not expected",
        ),
        (String::new(), "SAMLRequest is missing"),
    ];
    for (q, why) in cases {
        refused_and_alive(&w, w.slo_get(&q, cookie).await, why, &live).await;
    }
    // A tampered embedded signature over HTTP-POST.
    let signed = Crypto::sign_xml(
        logout_request("_b9", SP, SLO, Some(&me), &[&s], true),
        &key.key_der,
    )
    .expect("sign");
    let other = w
        .app
        .admin(
            "globex-acme",
            "kim@globex.example",
            Some(tenantry::authz::OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let altered = signed.replace(&me, &other.user_id);
    refused_and_alive(
        &w,
        w.slo_post(&altered).await,
        "signature does not verify",
        &live,
    )
    .await;
    // Another user's session named under my NameID: answered, but that session stays.
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let (kim, _) = w
        .app
        .core
        .create_session(&t, &other.user_id, &["webauthn"], None)
        .await
        .expect("session");
    let q = redirect_query(
        &logout_request("_b10", SP, SLO, Some(&me), &[&kim.id], false),
        None,
        Some(&key),
    );
    assert_eq!(w.slo_get(&q, None).await.status, StatusCode::OK);
    assert!(w.alive(&kim.id).await && w.alive(&s).await);
    // Replay of the same ID.
    refused_and_alive(&w, w.slo_get(&q, None).await, "replayed", &live).await;
    // Signature wrapping: a new request for kim under the signed one's ID and signature,
    // the signed original (for me) tucked inside as an extension.
    let signed = Crypto::sign_xml(
        logout_request("_b13", SP, SLO, Some(&me), &[&s], true),
        &key.key_der,
    )
    .expect("sign");
    let original = match signed.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").expect("declaration end") + 2..].trim(),
        None => signed.trim(),
    };
    let sig_start = original.find("<ds:Signature").expect("signature");
    let sig_end = original.find("</ds:Signature>").expect("signature end") + 15;
    let wrapper = logout_request("_b13", SP, SLO, Some(&other.user_id), &[&kim.id], false).replace(
        "</saml:Issuer>",
        &format!(
            "</saml:Issuer>{}<samlp:Extensions>{original}</samlp:Extensions>",
            &original[sig_start..sig_end]
        ),
    );
    let r = w.slo_post(&wrapper).await;
    assert_refused(&r, "signature does not verify");
    assert!(w.alive(&kim.id).await && w.alive(&s).await);
    // An SP without a SingleLogoutService.
    let t2 = w.app.core.find_tenant("globex-acme").await.expect("t");
    let other_sp = tenantry::saml::parse_sp_metadata(
        &metadata(None, false, None).replace(SP, "https://nolog.example.com"),
    )
    .expect("metadata");
    w.app
        .core
        .register_saml_sp(&t2, other_sp, &Actor::cli(), None)
        .await
        .expect("register");
    let q = redirect_query(
        &logout_request(
            "_b11",
            "https://nolog.example.com",
            SLO,
            Some(&me),
            &[&s],
            false,
        ),
        None,
        None,
    );
    refused_and_alive(
        &w,
        w.slo_get(&q, cookie).await,
        "no SingleLogoutService",
        &live,
    )
    .await;
    // Stale.
    w.app.clock.advance(3600);
    assert_refused(
        &w.slo_get(&ok("_b12", SP, SLO), cookie).await,
        "IssueInstant",
    );
}
