//! Building and signing a Response (saml-core-2.0-os §3.2.2, §2.3.3; saml-profiles-2.0-os
//! §4.1.4.2 Web Browser SSO): a signed Assertion (RSA-SHA256, SHA-256 digests, exclusive
//! c14n) in a Response that is signed too.
//!
//! The documents are written in their own exclusive canonical form (xml-exc-c14n: no
//! empty-element tags, attributes in order, each namespace declared on the outermost
//! element that uses it, text escaped as c14n does), so the bytes digested and signed are
//! the bytes we wrote, with the loaded key from `keycache`: no parse, no re-serialisation
//! and no key decoding per signature. The one difference between the document sent and
//! its canonical form is the Assertion's `xmlns:xs` (for `xsi:type="xs:string"`), which
//! exclusive c14n leaves out because it is used only inside an attribute value; the
//! canonical text is built beside the sent one. Tests verify the output with xmlsec and
//! pysaml2.

use super::keycache;
use super::xml::{c14n_attr as attr, c14n_text as text, instant};
use crate::core::saml::{SamlSubject, ASSERTION_TTL};
use base64::Engine;
use sha2::{Digest, Sha256};

const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const NS_XS: &str = "http://www.w3.org/2001/XMLSchema";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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

/// The canonical SignedInfo; `standalone` declares `ds` on it, as c14n of SignedInfo alone
/// (the input of the signature) does; inside ds:Signature the declaration is inherited.
fn signed_info(reference: &str, digest: &str, standalone: bool) -> String {
    let ns = if standalone {
        format!(" xmlns:ds=\"{NS_DS}\"")
    } else {
        String::new()
    };
    format!(
        "<ds:SignedInfo{ns}><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod>\
<ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"></ds:SignatureMethod><ds:Reference URI=\"#{reference}\">\
<ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED}\"></ds:Transform><ds:Transform Algorithm=\"{EXC_C14N}\">\
</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod>\
<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    )
}

/// The enveloped ds:Signature over the element `reference`, whose canonical form without
/// this signature (the enveloped-signature transform's output) is `canonical`.
fn signature(
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    cert_b64: &str,
    reference: &str,
    canonical: &str,
) -> Result<String, String> {
    let digest = B64.encode(Sha256::digest(canonical.as_bytes()));
    let value = keycache::sign_rsa_sha256(key, signed_info(reference, &digest, true).as_bytes())?;
    Ok(format!(
        "<ds:Signature xmlns:ds=\"{NS_DS}\">{}<ds:SignatureValue>{}</ds:SignatureValue>\
<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
</ds:Signature>",
        signed_info(reference, &digest, false),
        B64.encode(value),
    ))
}

/// The attributes; in canonical form each value declares `xsi` itself (the document sent
/// declares it once on the Assertion).
fn attributes(subject: &SamlSubject, c14n: bool) -> String {
    let xsi = if c14n {
        format!(" xmlns:xsi=\"{NS_XSI}\"")
    } else {
        String::new()
    };
    let mut out = String::new();
    for (name, values) in &subject.attributes {
        out.push_str(&format!(
            "<saml:Attribute Name=\"{}\" NameFormat=\"{BASIC}\">",
            attr(name)
        ));
        for v in values {
            out.push_str(&format!(
                "<saml:AttributeValue{xsi} xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                text(v)
            ));
        }
        out.push_str("</saml:Attribute>");
    }
    out
}

/// The Assertion's start tag and Issuer, and everything after the Signature: as sent
/// (`xs` and `xsi` declared on the Assertion), or in canonical form (`c14n`).
fn assertion_parts(ctx: &Context, subject: &SamlSubject, id: &str, c14n: bool) -> (String, String) {
    let now = instant(ctx.now);
    let until = instant(ctx.now + ASSERTION_TTL);
    // NotBefore a little in the past: SPs' clocks drift.
    let not_before = instant(ctx.now - 30);
    let xs = if !c14n {
        format!(" xmlns:xs=\"{NS_XS}\" xmlns:xsi=\"{NS_XSI}\"")
    } else {
        String::new()
    };
    let head = format!(
        "<saml:Assertion xmlns:saml=\"{NS_ASSERTION}\"{xs} ID=\"{id}\" IssueInstant=\"{now}\" Version=\"2.0\">\
<saml:Issuer>{issuer}</saml:Issuer>",
        issuer = text(ctx.issuer),
    );
    let tail = format!(
        "<saml:Subject><saml:NameID Format=\"{persistent}\" NameQualifier=\"{issuer}\" SPNameQualifier=\"{audience}\">{name_id}</saml:NameID>\
<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
<saml:SubjectConfirmationData{irt} NotOnOrAfter=\"{until}\" Recipient=\"{acs}\"></saml:SubjectConfirmationData>\
</saml:SubjectConfirmation></saml:Subject>\
<saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>\
<saml:Audience>{audience_text}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
<saml:AuthnStatement AuthnInstant=\"{authn}\" SessionIndex=\"{session}\" SessionNotOnOrAfter=\"{session_until}\">\
<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified</saml:AuthnContextClassRef>\
</saml:AuthnContext></saml:AuthnStatement>\
<saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>",
        persistent = super::metadata::NAMEID_PERSISTENT,
        issuer = attr(ctx.issuer),
        audience = attr(ctx.audience),
        audience_text = text(ctx.audience),
        name_id = text(&subject.name_id),
        irt = in_response_to(ctx.in_response_to),
        acs = attr(ctx.acs_url),
        authn = instant(subject.auth_time),
        session = attr(&subject.session_index),
        session_until = instant(subject.session_expires_at),
        attributes = attributes(subject, c14n),
    );
    (head, tail)
}

/// ` InResponseTo="..."`, or nothing for an unsolicited response.
fn in_response_to(id: Option<&str>) -> String {
    id.map(|i| format!(" InResponseTo=\"{}\"", attr(i)))
        .unwrap_or_default()
}

/// Our own EncryptedAssertion (encrypt.rs) in canonical form: `saml` declared on it (the
/// Response does not use that prefix itself) and its empty elements written out.
fn canonical_encrypted(xml: &str) -> Result<String, String> {
    let xml = xml
        .strip_prefix("<saml:EncryptedAssertion>")
        .ok_or("unexpected EncryptedAssertion")?;
    let mut out = format!("<saml:EncryptedAssertion xmlns:saml=\"{NS_ASSERTION}\">");
    let mut rest = xml;
    while let Some(end) = rest.find("/>") {
        let open = rest[..end]
            .rfind('<')
            .ok_or("unexpected EncryptedAssertion")?;
        let name = rest[open + 1..end]
            .split(|c: char| c.is_ascii_whitespace())
            .next()
            .unwrap_or_default();
        out.push_str(&rest[..end]);
        out.push_str(&format!("></{name}>"));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The signed Response document (UTF-8 XML). CPU-heavy: two RSA signatures.
pub fn signed_response(
    ctx: &Context,
    subject: &SamlSubject,
    key_der: &[u8],
    cert_der: &[u8],
) -> Result<String, String> {
    let key = keycache::key(key_der)?;
    let cert_b64 = B64.encode(cert_der);
    let assertion_id = new_id();
    let (head_sent, tail_sent) = assertion_parts(ctx, subject, &assertion_id, false);
    let (head_c14n, tail_c14n) = assertion_parts(ctx, subject, &assertion_id, true);
    let sig = signature(
        &key,
        &cert_b64,
        &assertion_id,
        &format!("{head_c14n}{tail_c14n}"),
    )
    .map_err(|e| format!("signing the assertion: {e}"))?;
    let (assertion_sent, assertion_c14n) = match ctx.encrypt_for {
        Some(cert) => {
            let enc =
                super::encrypt::encrypt_assertion(&format!("{head_sent}{sig}{tail_sent}"), cert)?;
            let c14n = canonical_encrypted(&enc)?;
            (enc, c14n)
        }
        None => (
            format!("{head_sent}{sig}{tail_sent}"),
            format!("{head_c14n}{sig}{tail_c14n}"),
        ),
    };
    let response_id = new_id();
    let (head_sent, head_c14n) = protocol_head(
        "Response",
        &format!(
            " Destination=\"{}\" ID=\"{response_id}\"{} IssueInstant=\"{}\" Version=\"2.0\"",
            attr(ctx.acs_url),
            in_response_to(ctx.in_response_to),
            instant(ctx.now)
        ),
        ctx.issuer,
    );
    let tail = format!("<samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"></samlp:StatusCode></samlp:Status>");
    let sig = signature(
        &key,
        &cert_b64,
        &response_id,
        &format!("{head_c14n}{tail}{assertion_c14n}</samlp:Response>"),
    )
    .map_err(|e| format!("signing the response: {e}"))?;
    Ok(format!(
        "{head_sent}{sig}{tail}{assertion_sent}</samlp:Response>"
    ))
}

/// A protocol message's start tag (`attributes` in canonical order) and its Issuer: as
/// sent (`saml` declared on the root, so an EncryptedAssertion inherits it) and in
/// canonical form (`saml` declared on the Issuer, its outermost use).
fn protocol_head(element: &str, attributes: &str, issuer: &str) -> (String, String) {
    let issuer = text(issuer);
    (
        format!("<samlp:{element} xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\"{attributes}><saml:Issuer>{issuer}</saml:Issuer>"),
        format!("<samlp:{element} xmlns:samlp=\"{NS_PROTOCOL}\"{attributes}><saml:Issuer xmlns:saml=\"{NS_ASSERTION}\">{issuer}</saml:Issuer>"),
    )
}

/// Status codes of a LogoutResponse (saml-core-2.0-os §3.2.2.2).
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A signed LogoutResponse (saml-core-2.0-os §3.7.2) to `destination`, answering the
/// LogoutRequest `in_response_to`, in canonical form like the Response. CPU-heavy: one RSA
/// signature.
pub fn signed_logout_response(
    issuer: &str,
    destination: &str,
    in_response_to: &str,
    now: i64,
    key_der: &[u8],
    cert_der: &[u8],
) -> Result<String, String> {
    let key = keycache::key(key_der)?;
    let cert_b64 = B64.encode(cert_der);
    let id = new_id();
    let (head_sent, head_c14n) = protocol_head(
        "LogoutResponse",
        &format!(" Destination=\"{}\" ID=\"{id}\" InResponseTo=\"{}\" IssueInstant=\"{}\" Version=\"2.0\"",
            attr(destination), attr(in_response_to), instant(now)),
        issuer,
    );
    let tail = format!(
        "<samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"></samlp:StatusCode></samlp:Status>\
</samlp:LogoutResponse>"
    );
    let sig = signature(&key, &cert_b64, &id, &format!("{head_c14n}{tail}"))
        .map_err(|e| format!("signing the logout response: {e}"))?;
    Ok(format!("{head_sent}{sig}{tail}"))
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
        dest = super::xml::esc(destination),
        irt = super::xml::esc(in_response_to),
        issuer = super::xml::esc(issuer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use samael::crypto::{CertificateDer, Crypto, CryptoProvider};

    fn key_and_cert() -> (Vec<u8>, Vec<u8>) {
        let pkey = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa"))
            .expect("pkey");
        let mut b = openssl::x509::X509Builder::new().expect("builder");
        b.set_pubkey(&pkey).expect("pubkey");
        let start = openssl::asn1::Asn1Time::days_from_now(0).expect("time");
        let end = openssl::asn1::Asn1Time::days_from_now(1).expect("time");
        b.set_not_before(&start).expect("not before");
        b.set_not_after(&end).expect("not after");
        b.sign(&pkey, openssl::hash::MessageDigest::sha256())
            .expect("sign");
        (
            pkey.private_key_to_pkcs8().expect("pkcs8"),
            b.build().to_der().expect("der"),
        )
    }

    /// Values that c14n escapes differently from plain XML escaping still give
    /// signatures xmlsec accepts: the written text is its own canonical form.
    #[test]
    fn awkward_text_still_verifies_with_xmlsec() {
        let (key, cert) = key_and_cert();
        let odd = "a&b <c> \"d\" 'e'\r\n\tf\u{1} é ]]>";
        let subject = SamlSubject {
            name_id: format!("usr_{odd}"),
            session_index: format!("ses_{odd}"),
            auth_time: 1_800_000_000,
            session_expires_at: 1_800_003_600,
            attributes: vec![(format!("n{odd}"), vec![odd.to_string(), String::new()])],
        };
        let acs = format!("https://sp.example/acs?x=1&y=\"{odd}\"");
        let ctx = Context {
            issuer: "https://idp.example/t?a=1&b=2",
            audience: odd,
            acs_url: &acs,
            in_response_to: Some("_r<1>&\""),
            now: 1_800_000_000,
            encrypt_for: None,
        };
        let xml = signed_response(&ctx, &subject, &key, &cert).expect("response");
        let der = CertificateDer::from(cert.clone());
        Crypto::verify_signed_xml(xml.as_bytes(), &der, Some("ID")).expect("response");
        let a = xml.find("<saml:Assertion").expect("assertion");
        let b = xml.find("</saml:Assertion>").expect("end") + "</saml:Assertion>".len();
        Crypto::verify_signed_xml(&xml.as_bytes()[a..b], &der, Some("ID")).expect("assertion");
        let tampered = xml.replacen("é", "e", 1);
        assert!(Crypto::verify_signed_xml(tampered.as_bytes(), &der, Some("ID")).is_err());

        let lo = signed_logout_response(odd, &acs, "_r<1>&\"", 1_800_000_000, &key, &cert)
            .expect("logout response");
        Crypto::verify_signed_xml(lo.as_bytes(), &der, Some("ID")).expect("logout response");
    }
}
