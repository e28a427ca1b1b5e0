//! Metadata (SAML 2.0 Metadata, saml-metadata-2.0-os): the tenant's IdP metadata at
//! `/saml/metadata`, and parsing an SP's metadata into our own `NewSamlSp`.

use super::xml::{check_plain, esc, root_name};
use crate::core::saml::{AcsEndpoint, NewSamlSp, SloEndpoint, BINDING_POST, BINDING_REDIRECT};
use base64::Engine;
use samael::metadata::EntityDescriptor;
use std::str::FromStr;

const MAX_METADATA: usize = 512 * 1024;
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// The IdPSSODescriptor of a tenant: entityID = issuer, the signing certificates (the
/// signing one first, then a previous one during a rotation's overlap: an SP accepts
/// signatures by any of them), SSO over HTTP-Redirect and HTTP-POST, SLO, NameID formats.
pub fn idp_metadata(issuer: &str, certs_der: &[Vec<u8>]) -> String {
    let keys: String = certs_der
        .iter()
        .map(|der| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                base64::engine::general_purpose::STANDARD.encode(der)
            )
        })
        .collect();
    let sso = format!("{issuer}/saml/sso");
    let slo = format!("{issuer}/saml/slo");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\
<md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
{keys}\
<md:SingleLogoutService Binding=\"{redirect}\" Location=\"{slo}\"/>\
<md:SingleLogoutService Binding=\"{post}\" Location=\"{slo}\"/>\
<md:NameIDFormat>{persistent}</md:NameIDFormat>\
<md:NameIDFormat>{email}</md:NameIDFormat>\
<md:SingleSignOnService Binding=\"{redirect}\" Location=\"{sso}\"/>\
<md:SingleSignOnService Binding=\"{post}\" Location=\"{sso}\"/>\
</md:IDPSSODescriptor></md:EntityDescriptor>\n",
        entity = esc(issuer),
        redirect = BINDING_REDIRECT,
        post = BINDING_POST,
        slo = esc(&slo),
        sso = esc(&sso),
        persistent = NAMEID_PERSISTENT,
        email = NAMEID_EMAIL,
    )
}

fn clean_cert(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .ok()?;
    openssl::x509::X509::from_der(&der).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(der))
}

/// Parse SP metadata (one EntityDescriptor with an SPSSODescriptor). Refuses DTDs and
/// entities before parsing, metadata without an entityID or ACS, and unreadable
/// certificates.
pub fn parse_sp_metadata(xml: &str) -> Result<NewSamlSp, String> {
    check_plain(xml, MAX_METADATA).map_err(str::to_string)?;
    match root_name(xml) {
        Some((_, "EntityDescriptor")) => {}
        _ => return Err("SP metadata must be one md:EntityDescriptor".into()),
    }
    let ed = EntityDescriptor::from_str(xml).map_err(|e| format!("unreadable SP metadata: {e}"))?;
    let entity_id = ed
        .entity_id
        .clone()
        .filter(|e| !e.trim().is_empty())
        .ok_or("the metadata has no entityID")?;
    let sp = ed
        .sp_sso_descriptors
        .as_ref()
        .and_then(|d| d.first())
        .ok_or("the metadata has no SPSSODescriptor")?;
    let mut acs = Vec::new();
    for (i, e) in sp.assertion_consumer_services.iter().enumerate() {
        let url = url::Url::parse(&e.location)
            .map_err(|_| format!("AssertionConsumerService {} is not a URL", e.location))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(format!(
                "AssertionConsumerService {} is not http(s)",
                e.location
            ));
        }
        acs.push(AcsEndpoint {
            binding: e.binding.clone(),
            location: e.location.clone(),
            index: u32::try_from(e.index).unwrap_or(u32::try_from(i).unwrap_or(0)),
            is_default: e.is_default.unwrap_or(false),
        });
    }
    if acs.is_empty() {
        return Err("the metadata has no AssertionConsumerService".into());
    }
    let mut slo = Vec::new();
    for e in sp.single_logout_services.iter().flatten() {
        if e.binding != BINDING_POST && e.binding != BINDING_REDIRECT {
            continue;
        }
        for loc in std::iter::once(&e.location).chain(e.response_location.as_ref()) {
            match url::Url::parse(loc) {
                Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
                _ => return Err(format!("SingleLogoutService {loc} is not an http(s) URL")),
            }
        }
        slo.push(SloEndpoint {
            binding: e.binding.clone(),
            location: e.location.clone(),
            response_location: e.response_location.clone(),
        });
    }
    let mut signing = Vec::new();
    let mut encryption = Vec::new();
    for kd in sp.key_descriptors.iter().flatten() {
        let certs = kd
            .key_info
            .x509_data
            .as_ref()
            .map(|d| d.certificates.clone())
            .unwrap_or_default();
        for c in certs {
            let c = clean_cert(&c).ok_or("a certificate in the metadata is unreadable")?;
            // A key without `use` verifies signatures; assertions are encrypted only for
            // a key the SP marked `use="encryption"`, so that an SP gets encrypted
            // assertions only when it asked for them.
            match kd.key_use.as_deref() {
                Some("encryption") => encryption.push(c),
                _ => signing.push(c),
            }
        }
    }
    Ok(NewSamlSp {
        entity_id,
        acs,
        signing_certs: signing,
        encryption_certs: encryption,
        want_requests_signed: sp.authn_requests_signed.unwrap_or(false),
        metadata: xml.to_string(),
        slo,
        metadata_url: None,
    })
}
