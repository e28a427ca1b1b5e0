//! Receiving an AuthnRequest (saml-core-2.0-os §3.4.1, saml-bindings-2.0-os §3.4
//! HTTP-Redirect with DEFLATE and §3.5 HTTP-POST) and validating it strictly: no DTDs or
//! entities (checked before parsing), a registered issuer of THIS tenant, Destination equal
//! to this tenant's SSO URL (a request meant for another tenant is refused), a registered
//! ACS, a fresh IssueInstant, a request ID never seen before, and a valid signature when
//! the SP's metadata says its requests are signed (a bad signature is always refused).

use super::xml::{check_plain, root_name, root_namespace};
use crate::core::saml::{SamlSp, BINDING_POST};
use crate::core::Core;
use crate::tenancy::Tenant;
use base64::Engine;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::schema::AuthnRequest;
use samael::signature::{DigestAlgorithm, Signature, SignatureAlgorithm};
use std::collections::HashMap;
use std::io::Read;
use std::str::FromStr;

const MAX_ENCODED: usize = 256 * 1024;
pub(super) const MAX_XML: usize = 128 * 1024;
/// Accepted clock skew for IssueInstant in the future; requests older than this many
/// seconds are refused (the replay window is longer).
const FUTURE_SKEW: i64 = 180;
const MAX_AGE: i64 = 600;
pub(super) const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// Why a request is refused: the page says `error: {0}`.
#[derive(Debug)]
pub struct Refusal(pub String);

pub(super) fn refuse<T>(m: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(m.into()))
}

/// The signature of an HTTP-Redirect request: the signed octets, SigAlg and the value.
struct QuerySignature {
    signed: String,
    alg: String,
    value: Vec<u8>,
}

/// A decoded request, not yet validated.
pub struct Incoming {
    pub(super) xml: String,
    pub relay_state: Option<String>,
    query_signature: Option<QuerySignature>,
    redirect: bool,
}

/// A validated request: whom to answer, where, and with what.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Valid {
    pub request_id: String,
    pub sp_id: String,
    pub sp_entity_id: String,
    pub acs_url: String,
    pub relay_state: Option<String>,
}

fn b64(text: &str) -> Result<Vec<u8>, Refusal> {
    // A space can only be a `+` that an SP left unencoded in a query string.
    let compact: String = text
        .chars()
        .map(|c| if c == ' ' { '+' } else { c })
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Refusal("SAMLRequest is not valid base64".into()))
}

fn pct_decode(raw: &str) -> Result<String, Refusal> {
    let plus = raw.replace('+', " ");
    percent_decode(&plus).ok_or_else(|| Refusal("malformed query string".into()))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// HTTP-Redirect: `SAMLRequest` (DEFLATE, base64, URL-encoded), `RelayState`, and when
/// signed `SigAlg` and `Signature` over the raw octets as sent (bindings §3.4.4.1).
pub fn from_redirect(raw_query: &str) -> Result<Incoming, Refusal> {
    if raw_query.len() > MAX_ENCODED {
        return refuse("the request is too large");
    }
    let mut raw: HashMap<String, &str> = HashMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = pct_decode(k)?;
        if raw.insert(k, v).is_some() {
            return refuse("a query parameter appears twice");
        }
    }
    let Some(req) = raw.get("SAMLRequest") else {
        return refuse("SAMLRequest is missing");
    };
    let deflated = b64(&pct_decode(req)?)?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(MAX_XML as u64 + 1)
        .read_to_string(&mut xml)
        .or_else(|_| refuse("SAMLRequest is not DEFLATE-compressed UTF-8"))?;
    let relay_state = raw.get("RelayState").map(|r| pct_decode(r)).transpose()?;
    let query_signature = match (raw.get("SigAlg"), raw.get("Signature")) {
        (Some(alg), Some(sig)) => {
            let mut signed = format!("SAMLRequest={req}");
            if let Some(rs) = raw.get("RelayState") {
                signed.push_str(&format!("&RelayState={rs}"));
            }
            signed.push_str(&format!("&SigAlg={alg}"));
            Some(QuerySignature {
                signed,
                alg: pct_decode(alg)?,
                value: b64(&pct_decode(sig)?)?,
            })
        }
        (None, None) => None,
        _ => return refuse("SigAlg and Signature must come together"),
    };
    Ok(Incoming {
        xml,
        relay_state,
        query_signature,
        redirect: true,
    })
}

/// HTTP-POST: `SAMLRequest` (base64 of the XML, signature embedded) and `RelayState`.
pub fn from_post(form: &crate::oidc::Form<'_>) -> Result<Incoming, Refusal> {
    let Some(req) = form.get("SAMLRequest") else {
        return refuse("SAMLRequest is missing");
    };
    if req.len() > MAX_ENCODED {
        return refuse("the request is too large");
    }
    let xml = String::from_utf8(b64(req)?).or_else(|_| refuse("SAMLRequest is not UTF-8"))?;
    Ok(Incoming {
        xml,
        relay_state: form.get("RelayState").map(str::to_string),
        query_signature: None,
        redirect: false,
    })
}

fn verify_query_signature(sig: &QuerySignature, certs: &[Vec<u8>]) -> bool {
    use openssl::hash::MessageDigest;
    if sig.alg != RSA_SHA256 && sig.alg != ECDSA_SHA256 {
        return false;
    }
    certs.iter().any(|der| {
        let Ok(cert) = openssl::x509::X509::from_der(der) else {
            return false;
        };
        let Ok(key) = cert.public_key() else {
            return false;
        };
        let Ok(mut v) = openssl::sign::Verifier::new(MessageDigest::sha256(), &key) else {
            return false;
        };
        v.update(sig.signed.as_bytes()).is_ok() && v.verify(&sig.value).unwrap_or(false)
    })
}

/// An embedded signature must be the request's own (its one Reference names the root
/// ID), use RSA- or ECDSA-SHA256 with SHA-256 digests, and verify with an SP certificate.
fn verify_embedded(xml: &str, id: &str, sig: Option<&Signature>, certs: &[Vec<u8>]) -> bool {
    let Some(sig) = sig else {
        return false;
    };
    let info = &sig.signed_info;
    if !matches!(
        info.signature_method.algorithm,
        SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::EcdsaSha256
    ) {
        return false;
    }
    let [reference] = info.reference.as_slice() else {
        return false;
    };
    if reference.uri.as_deref() != Some(&format!("#{id}"))
        || !matches!(reference.digest_method.algorithm, DigestAlgorithm::Sha256)
    {
        return false;
    }
    certs.iter().any(|der| {
        Crypto::verify_signed_xml(
            xml.as_bytes(),
            &CertificateDer::from(der.clone()),
            Some("ID"),
        )
        .is_ok()
    })
}

fn pick_acs(sp: &SamlSp, req: &AuthnRequest) -> Result<String, Refusal> {
    if let Some(b) = &req.protocol_binding {
        if b != BINDING_POST {
            return refuse("only the HTTP-POST binding is supported for responses");
        }
    }
    let post = || sp.acs.iter().filter(|a| a.binding == BINDING_POST);
    if let Some(url) = &req.assertion_consumer_service_url {
        return match post().find(|a| &a.location == url) {
            Some(a) => Ok(a.location.clone()),
            None => refuse(
                "the AssertionConsumerServiceURL is not registered for this service provider",
            ),
        };
    }
    if let Some(i) = req.assertion_consumer_service_index {
        return match post().find(|a| usize::try_from(a.index).ok() == Some(i)) {
            Some(a) => Ok(a.location.clone()),
            None => refuse(
                "the AssertionConsumerServiceIndex is not registered for this service provider",
            ),
        };
    }
    post()
        .find(|a| a.is_default)
        .or_else(|| post().next())
        .map(|a| a.location.clone())
        .ok_or_else(|| {
            Refusal("the service provider has no HTTP-POST AssertionConsumerService".into())
        })
}

/// Validate a decoded request for `tenant` (see the module docs for the rules, in order).
pub async fn validate(core: &Core, tenant: &Tenant, inc: Incoming) -> Result<Valid, Refusal> {
    check_plain(&inc.xml, MAX_XML).map_err(|m| Refusal(m.into()))?;
    match root_name(&inc.xml) {
        Some((prefix, "AuthnRequest")) if root_namespace(&inc.xml, prefix) == Some(PROTOCOL_NS) => {
        }
        _ => return refuse("the message is not a SAML 2.0 AuthnRequest"),
    }
    let req =
        AuthnRequest::from_str(&inc.xml).or_else(|_| refuse("the AuthnRequest cannot be read"))?;
    if req.version != "2.0" {
        return refuse("only SAML 2.0 requests are accepted");
    }
    if req.id.is_empty() || req.id.len() > 256 {
        return refuse("the request ID is missing or too long");
    }
    let sp = known_sp(
        core,
        tenant,
        req.issuer.as_ref().and_then(|i| i.value.as_deref()),
    )
    .await?;
    check_destination(core, tenant, req.destination.as_deref(), "sso", "SSO")?;
    check_signature(&inc, &req.id, req.signature.as_ref(), &sp)?;
    let acs_url = pick_acs(&sp, &req)?;
    check_instant(core, req.issue_instant.timestamp())?;
    remember(core, tenant, &sp.id, &req.id).await?;
    Ok(Valid {
        request_id: req.id.clone(),
        sp_id: sp.id,
        sp_entity_id: sp.entity_id,
        acs_url,
        relay_state: inc.relay_state.filter(|r| r.len() <= 1024),
    })
}

/// The SP registered in THIS tenant under the message's Issuer.
pub(super) async fn known_sp(
    core: &Core,
    tenant: &Tenant,
    issuer: Option<&str>,
) -> Result<SamlSp, Refusal> {
    let issuer = issuer.map(str::trim).unwrap_or_default();
    if issuer.is_empty() {
        return refuse("the request names no issuer");
    }
    match core.saml_sp_by_entity(tenant, issuer).await {
        Ok(Some(sp)) => Ok(sp),
        Ok(None) => {
            refuse("unknown service provider: the issuer is not registered with this organization")
        }
        Err(e) => {
            tracing::error!(error = %e, "SAML SP lookup");
            refuse("the request could not be checked; try again")
        }
    }
}

/// Destination must be this tenant's endpoint `/saml/{path}` (a message addressed to
/// another tenant, or anywhere else, is refused).
pub(super) fn check_destination(
    core: &Core,
    tenant: &Tenant,
    destination: Option<&str>,
    path: &str,
    what: &str,
) -> Result<(), Refusal> {
    let url = format!("{}/saml/{path}", core.issuer(&tenant.name));
    if destination != Some(url.as_str()) {
        return refuse(format!(
            "the request's Destination is not this organization's {what} URL"
        ));
    }
    Ok(())
}

/// A signature, if present, must verify with the SP's certificates (query signature over
/// HTTP-Redirect, embedded over HTTP-POST); one is required when the SP's metadata says
/// its requests are signed. Returns whether the request was signed.
pub(super) fn check_signature(
    inc: &Incoming,
    id: &str,
    embedded: Option<&Signature>,
    sp: &SamlSp,
) -> Result<bool, Refusal> {
    let certs: Vec<Vec<u8>> = sp
        .signing_certs
        .iter()
        .filter_map(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .collect();
    let signed = match (&inc.query_signature, inc.redirect) {
        (Some(qs), true) => {
            if !verify_query_signature(qs, &certs) {
                return refuse("the request's signature does not verify");
            }
            true
        }
        _ if embedded.is_some() => {
            if !verify_embedded(&inc.xml, id, embedded, &certs) {
                return refuse("the request's signature does not verify");
            }
            true
        }
        _ => false,
    };
    if sp.want_requests_signed && !signed {
        return refuse("this service provider's requests must be signed");
    }
    Ok(signed)
}

/// IssueInstant within the accepted window.
pub(super) fn check_instant(core: &Core, issued: i64) -> Result<(), Refusal> {
    let now = core.clock.now();
    if issued > now + FUTURE_SKEW || issued < now - MAX_AGE {
        return refuse("the request's IssueInstant is too old or in the future");
    }
    Ok(())
}

/// Record the request's ID: a second use is a replay.
pub(super) async fn remember(
    core: &Core,
    tenant: &Tenant,
    sp: &str,
    id: &str,
) -> Result<(), Refusal> {
    match core.remember_saml_request(tenant, sp, id).await {
        Ok(true) => Ok(()),
        Ok(false) => refuse("this request was already used (replayed request ID)"),
        Err(e) => {
            tracing::error!(error = %e, "SAML request id");
            refuse("the request could not be checked; try again")
        }
    }
}
