//! The SAML 2.0 IdP of a tenant (issue 7): metadata, service providers through the CLI and
//! the admin API, SP-initiated SSO over HTTP-Redirect and HTTP-POST with signed responses
//! verified against the metadata certificate, and every refusal of a bad AuthnRequest.

use crate::support::{test_app, Reply, TestApp, T0};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};
use serde_json::{json, Value};
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

    async fn sso_post(&self, xml: &str, relay: &str) -> Reply {
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

    async fn redirect(&self, xml: String) -> Reply {
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

#[tokio::test]
async fn metadata_names_the_tenant_and_its_certificate() {
    let w = world().await;
    let r = w.app.get(G, "/saml/metadata").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains(&format!("entityID=\"{ISSUER}\"")),
        "{}",
        r.body
    );
    for needle in [
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"http://globex-acme.localhost:8080/saml/sso\"/>",
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"http://globex-acme.localhost:8080/saml/sso\"/>",
        "<md:SingleLogoutService",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "<md:KeyDescriptor use=\"signing\">",
    ] {
        assert!(r.body.contains(needle), "{needle} missing in {}", r.body);
    }
    let cert = w.idp_cert().await;
    let x509 = openssl::x509::X509::from_der(&cert).expect("certificate");
    let cn = x509
        .subject_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .next()
        .expect("CN")
        .data()
        .as_slice()
        .to_vec();
    let cn = String::from_utf8(cn).expect("utf-8");
    assert_eq!(cn, ISSUER);
    assert_eq!(x509.public_key().expect("key").bits(), 2048);
    // The same key on every request; another tenant has its own.
    assert_eq!(w.idp_cert().await, cert);
    let other = w
        .app
        .get("initech-acme.localhost:8080", "/saml/metadata")
        .await;
    assert!(other
        .body
        .contains("entityID=\"http://initech-acme.localhost:8080\""));
    assert!(!other.body.contains(&B64.encode(&cert)));
}

#[tokio::test]
async fn service_providers_through_the_admin_api() {
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
    let reader = w
        .app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let path = "/api/v1/orgs/globex-acme/saml-sps";
    let body = json!({"metadata": sp_metadata(SP, None, false)});
    let (st, _, _) = w
        .app
        .api("POST", G, path, Some(&reader.key), Some(body.clone()))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, sp, _) = w
        .app
        .api("POST", G, path, Some(&full.key), Some(body.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{sp}");
    assert_eq!(sp["entity_id"], SP);
    assert_eq!(sp["acs"][0]["location"], ACS);
    assert_eq!(sp["want_requests_signed"], false);
    let (st, err, _) = w
        .app
        .api("POST", G, path, Some(&full.key), Some(body))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    let dtd = json!({"metadata": format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", sp_metadata("https://x.example", None, false))});
    let (st, err, _) = w.app.api("POST", G, path, Some(&full.key), Some(dtd)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"]["code"], "invalid_metadata");
    let (st, list, _) = w.app.api("GET", G, path, Some(&reader.key), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let id = sp["id"].as_str().expect("id");
    let (st, _, _) = w
        .app
        .api(
            "DELETE",
            G,
            &format!("{path}/{id}"),
            Some(&reader.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = w
        .app
        .api("DELETE", G, &format!("{path}/{id}"), Some(&full.key), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, list, _) = w.app.api("GET", G, path, Some(&full.key), None).await;
    assert_eq!(list["items"], json!([]));
    // Another tenant's path is not this host's.
    let (st, _, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/initech-acme/saml-sps",
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn service_providers_through_the_cli() {
    let w = world().await;
    let file = w.app.env.dir.path().join("sp.xml");
    std::fs::write(&file, sp_metadata(SP, None, false)).expect("write metadata");
    let run = |args: &[&str]| {
        let out = w
            .app
            .env
            .command()
            .args(args)
            .output()
            .expect("run tenantry");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON output")
    };
    let path = file.display().to_string();
    let sp = run(&[
        "saml-sp",
        "add",
        "--tenant",
        "globex-acme",
        "--metadata",
        &path,
    ]);
    assert_eq!(sp["entity_id"], SP);
    let list = run(&["saml-sp", "list", "--tenant", "globex-acme"]);
    assert_eq!(list[0]["id"], sp["id"]);
    let id = sp["id"].as_str().expect("id");
    run(&["saml-sp", "remove", "--tenant", "globex-acme", id]);
    assert_eq!(
        run(&["saml-sp", "list", "--tenant", "globex-acme"]),
        json!([])
    );
    std::fs::write(&file, "<!DOCTYPE x><x/>").expect("write");
    let out = w
        .app
        .env
        .command()
        .args([
            "saml-sp",
            "add",
            "--tenant",
            "globex-acme",
            "--metadata",
            &path,
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

fn check_assertion(xml: &str, w: &World, request_id: &str) {
    let until = "2027-01-15T08:05:00Z";
    for needle in [
        format!("Destination=\"{ACS}\""),
        format!("InResponseTo=\"{request_id}\""),
        format!("<saml:Issuer>{ISSUER}</saml:Issuer>"),
        format!("<saml:Audience>{SP}</saml:Audience>"),
        format!("Recipient=\"{ACS}\""),
        format!("NotOnOrAfter=\"{until}\""),
        "NotBefore=\"2027-01-15T07:59:30Z\"".to_string(),
        format!("<saml:SubjectConfirmationData InResponseTo=\"{request_id}\" NotOnOrAfter=\"{until}\""),
        format!(
            "Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" NameQualifier=\"{ISSUER}\" SPNameQualifier=\"{SP}\">{}</saml:NameID>",
            w.user_id
        ),
        "SessionIndex=\"ses_".to_string(),
        "<saml:Attribute Name=\"email\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\"><saml:AttributeValue xsi:type=\"xs:string\">pat@globex.example</saml:AttributeValue>".to_string(),
        "<saml:Attribute Name=\"tenant\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\"><saml:AttributeValue xsi:type=\"xs:string\">globex-acme</saml:AttributeValue>".to_string(),
        "<saml:Attribute Name=\"org_access\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\"><saml:AttributeValue xsi:type=\"xs:string\">read-only</saml:AttributeValue>".to_string(),
        format!("<saml:AttributeValue xsi:type=\"xs:string\">{}:full</saml:AttributeValue>", w.net),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256".to_string(),
        "http://www.w3.org/2001/04/xmlenc#sha256".to_string(),
    ] {
        assert!(xml.contains(&needle), "{needle} missing in {xml}");
    }
    assert!(!xml.contains("xmldsig#sha1"), "SHA-1 digest in {xml}");
    assert_eq!(xml.matches("<ds:Signature xmlns").count(), 2, "{xml}");
}

#[tokio::test]
async fn sso_over_redirect_with_a_session() {
    let w = world().await;
    w.register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    let cert = w.idp_cert().await;
    let q = redirect_query(
        &authn_request("_req1", SP, SSO, ACS, false),
        Some("back/to?x=1"),
        None,
    );
    let r = w.sso_get(&q, true).await;
    let xml = verified_response(&r, &cert);
    check_assertion(&xml, &w, "_req1");
    assert_eq!(
        form_value(&r.body, "RelayState").as_deref(),
        Some("back/to?x=1")
    );
    let js = w.app.get(G, "/saml/autosubmit.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("saml-response"));
}

#[tokio::test]
async fn sso_over_post_continues_by_get_with_the_cookie() {
    let w = world().await;
    w.register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    let cert = w.idp_cert().await;
    let r = w
        .sso_post(&authn_request("_req2", SP, SSO, ACS, false), "rs")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let next = r.headers["location"]
        .to_str()
        .expect("location")
        .to_string();
    let query = next.strip_prefix("/saml/sso?").expect("back to /saml/sso");
    assert!(query.starts_with("pending=saml-"), "{next}");
    let r = w.sso_get(query, true).await;
    let xml = verified_response(&r, &cert);
    check_assertion(&xml, &w, "_req2");
    assert_eq!(form_value(&r.body, "RelayState").as_deref(), Some("rs"));
    // The pending request is used up.
    assert_refused(&w.sso_get(query, true).await, "expired");
}

#[tokio::test]
async fn without_a_session_the_request_waits_for_the_login() {
    let w = world().await;
    w.register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    let cert = w.idp_cert().await;
    let q = redirect_query(&authn_request("_req3", SP, SSO, ACS, false), None, None);
    let r = w.sso_get(&q, false).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let next = r.headers["location"]
        .to_str()
        .expect("location")
        .to_string();
    let pending = next.strip_prefix("/login?pending=").expect("to the login");
    assert!(pending.starts_with("saml-"));
    // Still nobody signed in: back to the login, the request kept.
    let again = w.sso_get(&format!("pending={pending}"), false).await;
    assert_eq!(again.headers["location"], next.as_str());
    let r = w.sso_get(&format!("pending={pending}"), true).await;
    let xml = verified_response(&r, &cert);
    check_assertion(&xml, &w, "_req3");
}

#[tokio::test]
async fn signed_requests_are_required_when_the_metadata_says_so() {
    let w = world().await;
    let key = sp_key();
    w.register("globex-acme", &sp_metadata(SP, Some(&key.cert_der), true))
        .await;
    let cert = w.idp_cert().await;
    // Unsigned: refused, over either binding.
    let q = redirect_query(&authn_request("_u1", SP, SSO, ACS, false), None, None);
    assert_refused(&w.sso_get(&q, true).await, "must be signed");
    assert_refused(
        &w.sso_post(&authn_request("_u2", SP, SSO, ACS, false), "")
            .await,
        "must be signed",
    );
    // Signed over the redirect binding: accepted.
    let q = redirect_query(
        &authn_request("_s1", SP, SSO, ACS, false),
        Some("r"),
        Some(&key),
    );
    verified_response(&w.sso_get(&q, true).await, &cert);
    // Signed by another key: refused.
    let q = redirect_query(
        &authn_request("_s2", SP, SSO, ACS, false),
        None,
        Some(&sp_key()),
    );
    assert_refused(&w.sso_get(&q, true).await, "signature does not verify");
    // Embedded signature over HTTP-POST: accepted; altered after signing: refused.
    let signed = Crypto::sign_xml(authn_request("_s3", SP, SSO, ACS, true), &key.key_der)
        .expect("sign request");
    let r = w.sso_post(&signed, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let signed = Crypto::sign_xml(authn_request("_s4", SP, SSO, ACS, true), &key.key_der)
        .expect("sign request");
    let altered = signed.replace("AllowCreate=\"true\"", "AllowCreate=\"false\"");
    assert_refused(&w.sso_post(&altered, "").await, "signature does not verify");
    // Signature wrapping: a new request under the signed one's ID, the signed original
    // tucked inside as an extension.
    let signed = Crypto::sign_xml(authn_request("_s5", SP, SSO, ACS, true), &key.key_der)
        .expect("sign request");
    let original = match signed.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").expect("declaration end") + 2..].trim(),
        None => signed.trim(),
    };
    let sig_start = original.find("<ds:Signature").expect("signature");
    let sig_end = original.find("</ds:Signature>").expect("signature end") + 15;
    let wrapper = authn_request("_s5", SP, SSO, "https://evil.example/acs", false).replace(
        "</saml:Issuer>",
        &format!(
            "</saml:Issuer>{}<samlp:Extensions>{original}</samlp:Extensions>",
            &original[sig_start..sig_end]
        ),
    );
    // Refused by the signature check itself, not by anything before it.
    assert_refused(&w.sso_post(&wrapper, "").await, "signature does not verify");
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_clear_page() {
    let w = world().await;
    w.register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    // initech registers the same SP: a request for initech must not work at globex.
    w.register("initech-acme", &sp_metadata(SP, None, false))
        .await;
    let dtd = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
        authn_request("_d1", SP, SSO, ACS, false)
    );
    assert_refused(&w.redirect(dtd.clone()).await, "DTD");
    assert_refused(&w.sso_post(&dtd, "").await, "DTD");
    assert_refused(
        &w.redirect(authn_request(
            "_i1",
            "https://evil.example/saml",
            SSO,
            ACS,
            false,
        ))
        .await,
        "unknown service provider",
    );
    assert_refused(
        &w.redirect(authn_request(
            "_x1",
            SP,
            "http://initech-acme.localhost:8080/saml/sso",
            ACS,
            false,
        ))
        .await,
        "Destination",
    );
    assert_refused(
        &w.redirect(authn_request(
            "_x2",
            SP,
            "https://elsewhere.example/sso",
            ACS,
            false,
        ))
        .await,
        "Destination",
    );
    assert_refused(
        &w.redirect(authn_request(
            "_a1",
            SP,
            SSO,
            "https://evil.example/acs",
            false,
        ))
        .await,
        "AssertionConsumerServiceURL",
    );
    assert_eq!(
        w.redirect(authn_request("_r1", SP, SSO, ACS, false))
            .await
            .status,
        StatusCode::OK
    );
    assert_refused(
        &w.redirect(authn_request("_r1", SP, SSO, ACS, false)).await,
        "replayed",
    );
    assert_refused(
        &w.sso_post(&authn_request("_r1", SP, SSO, ACS, false), "")
            .await,
        "replayed",
    );
    // Not an AuthnRequest, not deflated, not base64.
    assert_refused(
        &w.redirect(
            "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>".into(),
        )
        .await,
        "not a SAML 2.0 AuthnRequest",
    );
    assert_refused(&w.sso_get("SAMLRequest=%%%", true).await, "");
    assert_refused(&w.sso_get("SAMLRequest=AAAA", true).await, "DEFLATE");
    assert_refused(&w.sso_get("", true).await, "SAMLRequest is missing");
    // An old request: refused by its IssueInstant.
    w.app.clock.advance(3600);
    assert_refused(
        &w.redirect(authn_request("_o1", SP, SSO, ACS, false)).await,
        "IssueInstant",
    );
    let _ = T0;
}

/// End-to-end SSO answers per second through the router (session lookup, privilege
/// claims, two RSA-2048 signatures). `cargo test --release --test it saml_throughput --
/// --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn saml_throughput() {
    let w = world().await;
    w.register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    w.idp_cert().await;
    let n = 200;
    let start = std::time::Instant::now();
    for i in 0..n {
        let q = redirect_query(
            &authn_request(&format!("_t{i}"), SP, SSO, ACS, false),
            None,
            None,
        );
        assert_eq!(w.sso_get(&q, true).await.status, StatusCode::OK);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} signed SSO responses in {secs:.2} s: {:.0}/s",
        f64::from(n) / secs
    );
}

#[tokio::test]
async fn passkey_login_resumes_a_pending_saml_request() {
    use crate::passkeys::{assertion, enrol, post, send, Device, HOST, ORIGIN};
    let (app, path) = crate::passkeys::world().await;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    let t = app.core.find_tenant("globex-acme").await.expect("tenant");
    let new = tenantry::saml::parse_sp_metadata(&sp_metadata(SP, None, false)).expect("metadata");
    app.core
        .register_saml_sp(&t, new, &Actor::cli(), None)
        .await
        .expect("register SP");
    let q = redirect_query(&authn_request("_p1", SP, SSO, ACS, false), None, None);
    let r = app.get(HOST, &format!("/saml/sso?{q}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.headers["location"]
        .to_str()
        .expect("location")
        .to_string();
    let pending = loc.strip_prefix("/login?pending=").expect("to the login");
    let (c, a) = assertion(&app, &mut dev, HOST).await;
    let r = post(
        &app,
        HOST,
        "/login/finish",
        ORIGIN,
        json!({"ceremony": c, "credential": a, "pending": pending}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let next = r.body["next"].as_str().expect("next").to_string();
    assert_eq!(next, format!("/saml/sso?pending={pending}"));
    let cookie = r.cookie.expect("cookie");
    let resumed = send(&app, "GET", HOST, &next, None, Some(&cookie), None).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text);
    assert!(
        resumed.text.contains("name=\"SAMLResponse\""),
        "{}",
        resumed.text
    );
    assert!(resumed.text.contains(&format!("action=\"{ACS}\"")));
}
