//! Building and signing a Response (saml-core-2.0-os §3.2.2, §2.3.3; saml-profiles-2.0-os
//! §4.1.4.2 Web Browser SSO): a signed Assertion (RSA-SHA256, SHA-256 digests, exclusive
//! c14n) spliced into a Response that is then signed too. samael's `sign_xml` signs only
//! the first Signature template of a document, hence the two steps.

use super::xml::{esc, instant};
use crate::core::saml::{SamlSubject, ASSERTION_TTL};
use base64::Engine;
use samael::crypto::{Crypto, CryptoProvider};

const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

/// Everything the response states besides the subject.
pub struct Context<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub acs_url: &'a str,
    /// None for an unsolicited (IdP-initiated) response.
    pub in_response_to: Option<&'a str>,
    pub now: i64,
    /// The SP's encryption certificate (DER): the signed Assertion is then sent as an
    /// EncryptedAssertion.
    pub encrypt_for: Option<&'a [u8]>,
}

fn new_id() -> String {
    // xs:ID must not start with a digit.
    let mut b = [0u8; 20];
    rand::Rng::fill(&mut rand::rng(), &mut b);
    format!("_{}", hex::encode(b))
}

fn signature_template(reference: &str, cert_b64: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
<ds:Reference URI=\"#{reference}\"><ds:Transforms>\
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>\
</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>\
<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
</ds:Signature>"
    )
}

fn attributes(subject: &SamlSubject) -> String {
    let mut out = String::new();
    for (name, values) in &subject.attributes {
        out.push_str(&format!(
            "<saml:Attribute Name=\"{}\" NameFormat=\"{BASIC}\">",
            esc(name)
        ));
        for v in values {
            out.push_str(&format!(
                "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                esc(v)
            ));
        }
        out.push_str("</saml:Attribute>");
    }
    out
}

fn assertion_xml(ctx: &Context, subject: &SamlSubject, id: &str, cert_b64: &str) -> String {
    let now = instant(ctx.now);
    let until = instant(ctx.now + ASSERTION_TTL);
    // NotBefore a little in the past: SPs' clocks drift.
    let not_before = instant(ctx.now - 30);
    format!(
        "<saml:Assertion xmlns:saml=\"{NS_ASSERTION}\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\">\
<saml:Issuer>{issuer}</saml:Issuer>{signature}\
<saml:Subject><saml:NameID Format=\"{persistent}\" NameQualifier=\"{issuer}\" SPNameQualifier=\"{audience}\">{name_id}</saml:NameID>\
<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
<saml:SubjectConfirmationData{irt} NotOnOrAfter=\"{until}\" Recipient=\"{acs}\"/>\
</saml:SubjectConfirmation></saml:Subject>\
<saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>\
<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
<saml:AuthnStatement AuthnInstant=\"{authn}\" SessionIndex=\"{session}\" SessionNotOnOrAfter=\"{session_until}\">\
<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified</saml:AuthnContextClassRef>\
</saml:AuthnContext></saml:AuthnStatement>\
<saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>",
        issuer = esc(ctx.issuer),
        signature = signature_template(id, cert_b64),
        persistent = super::metadata::NAMEID_PERSISTENT,
        audience = esc(ctx.audience),
        name_id = esc(&subject.name_id),
        irt = in_response_to(ctx.in_response_to),
        acs = esc(ctx.acs_url),
        authn = instant(subject.auth_time),
        session = esc(&subject.session_index),
        session_until = instant(subject.session_expires_at),
        attributes = attributes(subject),
    )
}

/// ` InResponseTo="..."`, or nothing for an unsolicited response.
fn in_response_to(id: Option<&str>) -> String {
    id.map(|i| format!(" InResponseTo=\"{}\"", esc(i)))
        .unwrap_or_default()
}

/// Drop the XML declaration libxml2 writes in front of a serialized document.
fn without_declaration(xml: &str) -> &str {
    let t = xml.trim_start();
    match t.strip_prefix("<?xml") {
        Some(r) => r.find("?>").map(|e| r[e + 2..].trim_start()).unwrap_or(t),
        None => t,
    }
}

/// The signed Response document (UTF-8 XML). CPU-heavy: two RSA signatures.
pub fn signed_response(
    ctx: &Context,
    subject: &SamlSubject,
    key_der: &[u8],
    cert_der: &[u8],
) -> Result<String, String> {
    let cert_b64 = base64::engine::general_purpose::STANDARD.encode(cert_der);
    let assertion_id = new_id();
    let assertion = assertion_xml(ctx, subject, &assertion_id, &cert_b64);
    let signed_assertion =
        Crypto::sign_xml(&assertion, key_der).map_err(|e| format!("signing the assertion: {e}"))?;
    let signed_assertion = without_declaration(&signed_assertion);
    let assertion = match ctx.encrypt_for {
        Some(cert) => super::encrypt::encrypt_assertion(signed_assertion, cert)?,
        None => signed_assertion.to_string(),
    };
    let response_id = new_id();
    let response = format!(
        "<samlp:Response xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"{response_id}\" \
Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{acs}\"{irt}>\
<saml:Issuer>{issuer}</saml:Issuer>{signature}\
<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
{assertion}</samlp:Response>",
        now = instant(ctx.now),
        acs = esc(ctx.acs_url),
        irt = in_response_to(ctx.in_response_to),
        issuer = esc(ctx.issuer),
        signature = signature_template(&response_id, &cert_b64),
        assertion = assertion,
    );
    Crypto::sign_xml(&response, key_der).map_err(|e| format!("signing the response: {e}"))
}

/// Status codes of a LogoutResponse (saml-core-2.0-os §3.2.2.2).
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A signed LogoutResponse (saml-core-2.0-os §3.7.2) to `destination`, answering the
/// LogoutRequest `in_response_to`. CPU-heavy: one RSA signature.
pub fn signed_logout_response(
    issuer: &str,
    destination: &str,
    in_response_to: &str,
    now: i64,
    key_der: &[u8],
    cert_der: &[u8],
) -> Result<String, String> {
    let cert_b64 = base64::engine::general_purpose::STANDARD.encode(cert_der);
    let id = new_id();
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"{id}\" \
Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{dest}\" InResponseTo=\"{irt}\">\
<saml:Issuer>{issuer}</saml:Issuer>{signature}\
<samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
        now = instant(now),
        dest = esc(destination),
        irt = esc(in_response_to),
        issuer = esc(issuer),
        signature = signature_template(&id, &cert_b64),
    );
    Crypto::sign_xml(&xml, key_der).map_err(|e| format!("signing the logout response: {e}"))
}

/// The same LogoutResponse unsigned, for the HTTP-Redirect binding, whose signature covers
/// the query string instead (saml-bindings-2.0-os §3.4.4.1).
pub fn logout_response(issuer: &str, destination: &str, in_response_to: &str, now: i64) -> String {
    format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"{id}\" \
Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{dest}\" InResponseTo=\"{irt}\">\
<saml:Issuer>{issuer}</saml:Issuer>\
<samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
        id = new_id(),
        now = instant(now),
        dest = esc(destination),
        irt = esc(in_response_to),
        issuer = esc(issuer),
    )
}
