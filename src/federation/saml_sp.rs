//! The samael adapter for an upstream SAML IdP, with us as the service provider (SAML 2.0
//! Web Browser SSO profile, SP-initiated, HTTP-Redirect out and HTTP-POST back). Our
//! entityID is `{issuer}/saml/sp` (product.md), the ACS `{issuer}/saml/sp/acs`.
//!
//! A response is trusted only through samael's reduction to the signed elements (xmlsec):
//! whatever the signature does not cover is dropped before parsing, so a wrapped document
//! cannot smuggle an unsigned assertion in (XML signature wrapping). On top of samael's
//! checks (signature with the IdP's certificate from its metadata, issuer, Destination,
//! Recipient, InResponseTo against the one request we stored, audience, time) we require
//! an audience restriction, a NotOnOrAfter, and check the time window by our clock as
//! well. samael types stay in this file.

use super::fetch::Fetcher;
use crate::core::federation::{Kind, NewConnection};
use crate::core::federation_login::UpstreamUser;
use crate::error::Error;
use crate::saml::xml::{check_plain, esc};
use base64::Engine;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::schema::Assertion;
use samael::service_provider::ServiceProvider;

const MAX_XML: usize = 256 * 1024;
/// Allowed clock difference with the IdP, in seconds.
const SKEW: i64 = 60;

/// Why a document was refused; the message is safe to show.
#[derive(Debug)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refusal(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// What we know of an IdP from its metadata.
#[derive(Debug, Clone)]
pub struct IdpInfo {
    pub entity_id: String,
    pub sso_redirect: String,
}

fn parse_metadata(xml: &str) -> Result<(EntityDescriptor, IdpInfo), String> {
    check_plain(xml, MAX_XML).map_err(str::to_string)?;
    let ed: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("unreadable IdP metadata: {e}"))?;
    let entity_id = ed
        .entity_id
        .clone()
        .filter(|e| !e.trim().is_empty())
        .ok_or("the metadata has no entityID")?;
    let sp = ServiceProvider {
        idp_metadata: ed.clone(),
        ..ServiceProvider::default()
    };
    let sso_redirect = sp
        .sso_binding_location(HTTP_REDIRECT_BINDING)
        .ok_or("the metadata has no SingleSignOnService with the HTTP-Redirect binding")?;
    match url::Url::parse(&sso_redirect) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => {}
        _ => return Err("the SingleSignOnService location is not an http(s) URL".into()),
    }
    match sp.idp_signing_certs() {
        Ok(Some(_)) => {}
        _ => return Err("the metadata has no usable signing certificate".into()),
    }
    Ok((
        ed,
        IdpInfo {
            entity_id,
            sso_redirect,
        },
    ))
}

/// Check an IdP's metadata before a connection is stored.
pub fn check_idp_metadata(xml: &str) -> Result<IdpInfo, String> {
    parse_metadata(xml).map(|(_, info)| info)
}

/// Ready a new connection's SAML metadata, whatever the caller (admin API, portal, CLI)
/// after its privilege check: either the XML given, or fetched once from `metadata_url`
/// under the fetch policy of `fetch` (https only, no private or loopback address unless
/// `allow_insecure`, no redirects, size and time caps), then checked like pasted
/// metadata. OIDC connections take neither. Fails with the admin API's codes.
pub async fn prepare_idp_metadata(
    new: &mut NewConnection,
    allow_insecure: bool,
) -> Result<(), Error> {
    let url = new.metadata_url.take().filter(|u| !u.trim().is_empty());
    if new.kind != Kind::Saml {
        if url.is_some() {
            return Err(Error::invalid(
                "invalid_metadata_url",
                "metadata_url is for SAML connections",
            ));
        }
        return Ok(());
    }
    match (new.metadata.as_deref(), url) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "invalid_metadata",
                "give either metadata (XML) or metadata_url, not both",
            ))
        }
        (_, Some(url)) => {
            let fetcher = Fetcher::new(allow_insecure)
                .map_err(|e| Error::internal(format!("metadata fetcher: {e}")))?;
            let (parsed, xml) = fetcher
                .fetch_document(
                    &url,
                    "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8",
                )
                .await
                .map_err(|e| Error::invalid("invalid_metadata_url", e))?;
            check_idp_metadata(&xml).map_err(|m| {
                Error::invalid("invalid_metadata_url", format!("the fetched metadata: {m}"))
            })?;
            new.metadata = Some(xml);
            new.metadata_url = Some(parsed.to_string());
        }
        (xml, None) => {
            check_idp_metadata(xml.unwrap_or_default())
                .map_err(|m| Error::invalid("invalid_metadata", m))?;
        }
    }
    Ok(())
}

/// Our SP metadata (what the IdP registers): entityID, the POST ACS, assertions signed.
pub fn sp_metadata(entity_id: &str, acs: &str) -> String {
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"{}\" index=\"0\" isDefault=\"true\"/></md:SPSSODescriptor></md:EntityDescriptor>",
        esc(entity_id),
        esc(acs)
    )
}

/// The HTTP-Redirect URL carrying our AuthnRequest `request_id` to the IdP.
pub fn authn_request_url(
    metadata: &str,
    sp_entity_id: &str,
    acs: &str,
    request_id: &str,
    now: i64,
) -> Result<String, Refusal> {
    let (ed, info) = parse_metadata(metadata).map_err(|m| refusal("bad_configuration", m))?;
    let sp = ServiceProvider {
        entity_id: Some(sp_entity_id.to_string()),
        acs_url: Some(acs.to_string()),
        idp_metadata: ed,
        ..ServiceProvider::default()
    };
    let mut req = sp
        .make_authentication_request(&info.sso_redirect)
        .map_err(|e| refusal("bad_configuration", format!("AuthnRequest: {e}")))?;
    req.id = request_id.to_string();
    req.issue_instant = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    req.redirect("")
        .ok()
        .flatten()
        .map(|u| u.to_string())
        .ok_or_else(|| refusal("bad_configuration", "the AuthnRequest could not be encoded"))
}

/// The posted `SAMLResponse`, decoded and checked to be plain XML (no DTD, entities or
/// processing instructions).
pub fn decode_response(encoded: &str) -> Result<String, Refusal> {
    let bad = || refusal("malformed_response", "the SAML response is malformed");
    if encoded.len() > MAX_XML * 2 {
        return Err(bad());
    }
    let cleaned: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| bad())?;
    let xml = String::from_utf8(bytes).map_err(|_| bad())?;
    check_plain(&xml, MAX_XML).map_err(|m| refusal("malformed_response", m))?;
    Ok(xml)
}

/// The InResponseTo of the (not yet verified) response: only to find our stored request;
/// the verified document must carry the same.
pub fn claimed_request_id(xml: &str) -> Option<String> {
    // The root element's start tag (after an XML declaration); check_plain already
    // refused comments, DTDs and processing instructions other than the declaration.
    let mut rest = xml.trim_start();
    if rest.starts_with("<?xml") {
        rest = rest[rest.find("?>")? + 2..].trim_start();
    }
    let tag = &rest[..rest.find('>')?];
    let value = tag.split(" InResponseTo=\"").nth(1)?.split('"').next()?;
    Some(value.to_string()).filter(|id| !id.is_empty() && id.len() <= 200)
}

/// A verified sign-in: the user, and the assertion id with its expiry (for replay).
pub struct Verified {
    pub user: UpstreamUser,
    pub assertion_id: String,
    pub expires_at: i64,
}

fn values(a: &Assertion, name: &str) -> Vec<String> {
    a.attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter(|at| at.name.as_deref() == Some(name) || at.friendly_name.as_deref() == Some(name))
        .flat_map(|at| at.values.iter().filter_map(|v| v.value.clone()))
        .collect()
}

/// Verify a response to `request_id`; `claim` names the roles attribute; `now` is our clock.
pub fn verify_response(
    xml: &str,
    metadata: &str,
    sp_entity_id: &str,
    acs: &str,
    request_id: &str,
    claim: &str,
    now: i64,
) -> Result<Verified, Refusal> {
    let (ed, _) = parse_metadata(metadata).map_err(|m| refusal("bad_configuration", m))?;
    let sp = ServiceProvider {
        entity_id: Some(sp_entity_id.to_string()),
        acs_url: Some(acs.to_string()),
        idp_metadata: ed,
        allow_idp_initiated: false,
        max_issue_delay: chrono::Duration::minutes(5),
        max_clock_skew: chrono::Duration::seconds(SKEW),
        allowed_signature_algorithms: Some(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ]),
        ..ServiceProvider::default()
    };
    let assertion = sp
        .parse_xml_response(xml, Some(&[request_id]))
        .map_err(|e| {
            tracing::info!(error = %e, "upstream SAML response refused");
            refusal(
                "response_invalid",
                format!("the identity provider's response was refused: {e}"),
            )
        })?;
    let conditions = assertion
        .conditions
        .as_ref()
        .ok_or_else(|| refusal("response_invalid", "the assertion has no conditions"))?;
    let audience_ok = conditions
        .audience_restrictions
        .iter()
        .flatten()
        .any(|r| r.audience.iter().any(|a| a == sp_entity_id));
    if !audience_ok {
        return Err(refusal(
            "response_invalid",
            "the assertion is not addressed to this organization",
        ));
    }
    let not_after = conditions
        .not_on_or_after
        .map(|t| t.timestamp())
        .ok_or_else(|| refusal("response_invalid", "the assertion never expires"))?;
    let not_before = conditions.not_before.map_or(i64::MIN, |t| t.timestamp());
    if now >= not_after + SKEW || now + SKEW < not_before {
        return Err(refusal(
            "response_expired",
            "the assertion is outside its validity window",
        ));
    }
    let subject = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| refusal("no_subject", "the assertion names no subject"))?;
    let email = values(&assertion, "email")
        .into_iter()
        .next()
        .or_else(|| subject.contains('@').then(|| subject.clone()));
    Ok(Verified {
        user: UpstreamUser {
            subject,
            email,
            name: values(&assertion, "name").into_iter().next(),
            roles: values(&assertion, claim).into_iter().take(100).collect(),
        },
        assertion_id: assertion.id.clone(),
        expires_at: not_after + SKEW,
    })
}
