//! What the SAML IdP tests share (issue 7): the test world (MSP acme, customers globex and
//! initech, a read-only admin of globex with full access on one network and a session),
//! service-provider keys and metadata, AuthnRequests over both bindings, and the checks of
//! an answer page (both signatures verified against the IdP certificate) and of a refusal.

use crate::support::{test_app, Reply, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};
use std::io::Write;
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};
use tenantry::core::audit::Actor;

pub(crate) const G: &str = "globex-acme.localhost:8080";
pub(crate) const ISSUER: &str = "http://globex-acme.localhost:8080";
pub(crate) const SSO: &str = "http://globex-acme.localhost:8080/saml/sso";
pub(crate) const SP: &str = "https://app.example.com/saml";
pub(crate) const ACS: &str = "https://app.example.com/saml/acs";
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An SP's key pair and certificate.
pub(crate) struct SpKey {
    pub(crate) key_der: Vec<u8>,
    pub(crate) cert_der: Vec<u8>,
}

pub(crate) fn sp_key() -> SpKey {
    let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).expect("SP key");
    let cert = idp
        .create_certificate(&CertificateParams {
            common_name: "app.example.com",
            issuer_name: "app.example.com",
            days_until_expiration: 365,
        })
        .expect("SP certificate");
    SpKey {
        key_der: idp.export_private_key_der().expect("SP key DER"),
        cert_der: cert.der_data().to_vec(),
    }
}

pub(crate) fn sp_metadata(entity: &str, cert: Option<&[u8]>, requests_signed: bool) -> String {
    let key = cert
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
                 <ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                B64.encode(c)
            )
        })
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"{requests_signed}\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{key}\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>",
        acs = ACS,
    )
}

/// An AuthnRequest; `sign` embeds a signature template right after the Issuer.
pub(crate) fn authn_request(
    id: &str,
    issuer: &str,
    destination: &str,
    acs: &str,
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
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"2027-01-15T08:00:00Z\" Destination=\"{destination}\" \
         AssertionConsumerServiceURL=\"{acs}\" \
         ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\">\
         <saml:Issuer>{issuer}</saml:Issuer>{sig}\
         <samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" AllowCreate=\"true\"/>\
         </samlp:AuthnRequest>"
    )
}

pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The HTTP-Redirect query: DEFLATE, base64, URL-encoded; signed with `key` if given.
pub(crate) fn redirect_query(xml: &str, relay: Option<&str>, key: Option<&SpKey>) -> String {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    let deflated = e.finish().expect("deflate");
    let mut q = format!("SAMLRequest={}", enc(&B64.encode(deflated)));
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", enc(r)));
    }
    if let Some(k) = key {
        q.push_str(&format!(
            "&SigAlg={}",
            enc("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        ));
        let pkey = openssl::pkey::PKey::private_key_from_der(&k.key_der).expect("SP key");
        let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey)
            .expect("signer");
        signer.update(q.as_bytes()).expect("sign");
        let sig = signer.sign_to_vec().expect("sign");
        q.push_str(&format!("&Signature={}", enc(&B64.encode(sig))));
    }
    q
}

pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) user_id: String,
    pub(crate) cookie: String,
    pub(crate) net: String,
}

pub(crate) async fn world() -> World {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    let net = app
        .core
        .create_network("globex-acme", "HQ", &["hq".into()], &Actor::cli())
        .await
        .expect("network")
        .id;
    let admin = app
        .admin(
            "globex-acme",
            "pat@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![Grant {
                target: Target::Network(net.clone()),
                access: NetworkAccess::Full,
            }],
        )
        .await;
    let t = app.core.find_tenant("globex-acme").await.expect("tenant");
    let (_, cookie) = app
        .core
        .create_session(&t, &admin.user_id, &["webauthn"], None)
        .await
        .expect("session");
    World {
        app,
        user_id: admin.user_id,
        cookie,
        net,
    }
}

impl World {
    pub(crate) async fn register(
        &self,
        tenant: &str,
        metadata: &str,
    ) -> tenantry::core::saml::SamlSp {
        let t = self.app.core.find_tenant(tenant).await.expect("tenant");
        let new = tenantry::saml::parse_sp_metadata(metadata).expect("metadata");
        self.app
            .core
            .register_saml_sp(&t, new, &Actor::cli(), None)
            .await
            .expect("register SP")
    }

    pub(crate) async fn sso_get(&self, query: &str, cookie: bool) -> Reply {
        let mut req = Request::get(format!("/saml/sso?{query}")).header("host", G);
        if cookie {
            req = req.header(
                "cookie",
                format!("{}={}", self.app.core.session_cookie_name(), self.cookie),
            );
        }
        self.app
            .request(req.body(Body::empty()).expect("request"))
            .await
    }

    pub(crate) async fn sso_post(&self, xml: &str, relay: &str) -> Reply {
        let body = format!(
            "SAMLRequest={}&RelayState={}",
            enc(&B64.encode(xml)),
            enc(relay)
        );
        self.app
            .request(
                Request::post("/saml/sso")
                    .header("host", G)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(body))
                    .expect("request"),
            )
            .await
    }

    pub(crate) async fn redirect(&self, xml: String) -> Reply {
        self.sso_get(&redirect_query(&xml, None, None), true).await
    }

    pub(crate) async fn idp_cert(&self) -> Vec<u8> {
        let r = self.app.get(G, "/saml/metadata").await;
        assert_eq!(r.status, StatusCode::OK);
        let start = r.body.find("<ds:X509Certificate>").expect("certificate") + 20;
        let end = r.body[start..].find('<').expect("end") + start;
        B64.decode(&r.body[start..end]).expect("base64 certificate")
    }
}

pub(crate) fn form_value(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(
        body[start..end]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

pub(crate) fn assert_refused(r: &Reply, why: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.body);
    assert!(
        r.body.contains("<p id=\"status\" role=\"status\">error: "),
        "{why}: {}",
        r.body
    );
    assert!(r.body.contains(why), "expected {why:?} in {}", r.body);
}

/// The SAMLResponse of an answer page, decoded, with both signatures verified by `cert`.
pub(crate) fn verified_response(r: &Reply, cert: &[u8]) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(&format!("action=\"{ACS}\"")), "{}", r.body);
    assert!(r
        .body
        .contains("<script src=\"/saml/autosubmit.js\"></script>"));
    assert!(r.body.contains("<button type=\"submit\">"));
    let csp = r.headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("form-action https://app.example.com"), "{csp}");
    let encoded = form_value(&r.body, "SAMLResponse").expect("SAMLResponse");
    let xml = String::from_utf8(B64.decode(encoded).expect("base64")).expect("utf-8");
    let der = CertificateDer::from(cert.to_vec());
    Crypto::verify_signed_xml(xml.as_bytes(), &der, Some("ID")).expect("response signature");
    let a_start = xml.find("<saml:Assertion").expect("assertion");
    let a_end = xml.find("</saml:Assertion>").expect("assertion end") + "</saml:Assertion>".len();
    Crypto::verify_signed_xml(&xml.as_bytes()[a_start..a_end], &der, Some("ID"))
        .expect("assertion signature");
    // A tampered assertion no longer verifies.
    let tampered = xml[a_start..a_end].replace("pat@globex.example", "eve@globex.example");
    assert!(Crypto::verify_signed_xml(tampered.as_bytes(), &der, Some("ID")).is_err());
    xml
}
