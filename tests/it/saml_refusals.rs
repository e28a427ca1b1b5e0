//! Every refusal of a bad AuthnRequest at the SAML IdP (issue 7): unsigned or wrongly
//! signed requests when the SP's metadata asks for signatures (including signature
//! wrapping), DTDs, unknown SPs, wrong Destination or ACS, replays, malformed encodings and
//! stale IssueInstants, each answered with a clear error page.

use crate::saml_support::{
    assert_refused, authn_request, redirect_query, sp_key, sp_metadata, verified_response, world,
    ACS, SP, SSO,
};
use crate::support::T0;
use axum::http::StatusCode;
use samael::crypto::{Crypto, CryptoProvider};

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
