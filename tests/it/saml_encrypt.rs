//! Assertion encryption (issue 7): an SP whose metadata has a KeyDescriptor
//! use="encryption" gets the signed Assertion as an EncryptedAssertion (AES-256-GCM, the
//! key sent with RSA-OAEP for its certificate) inside a signed Response; decrypting with
//! the SP's key gives back the assertion, whose own signature verifies. An SP whose key
//! has no `use` gets a plain assertion.

use crate::saml::{form_value, redirect_query, sp_key, world, ACS, B64, SP, SSO};
use axum::http::StatusCode;
use base64::Engine;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};

fn metadata(cert: &[u8], key_use: Option<&str>) -> String {
    let attr = key_use.map(|u| format!(" use=\"{u}\"")).unwrap_or_default();
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{SP}\">\
         <md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:KeyDescriptor{attr}><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
         <ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{ACS}\" index=\"0\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>",
        B64.encode(cert)
    )
}

fn cipher_values(xml: &str) -> Vec<Vec<u8>> {
    xml.split("<xenc:CipherValue>")
        .skip(1)
        .map(|s| {
            B64.decode(s.split('<').next().expect("value"))
                .expect("base64")
        })
        .collect()
}

fn decrypt(xml: &str, key_der: &[u8]) -> String {
    use openssl::rsa::Padding;
    let pkey = openssl::pkey::PKey::private_key_from_der(key_der).expect("SP key");
    let values = cipher_values(xml);
    let mut dec = openssl::encrypt::Decrypter::new(&pkey).expect("decrypter");
    dec.set_rsa_padding(Padding::PKCS1_OAEP).expect("oaep");
    let mut key = vec![0u8; dec.decrypt_len(&values[0]).expect("len")];
    let n = dec.decrypt(&values[0], &mut key).expect("unwrap the key");
    key.truncate(n);
    let (iv, rest) = values[1].split_at(12);
    let (ct, tag) = rest.split_at(rest.len() - 16);
    let plain = openssl::symm::decrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        &key,
        Some(iv),
        &[],
        ct,
        tag,
    )
    .expect("decrypt the assertion");
    String::from_utf8(plain).expect("utf-8")
}

#[tokio::test]
async fn assertions_are_encrypted_for_an_sp_with_an_encryption_key() {
    let w = world().await;
    let key = sp_key();
    let sp = w
        .register("globex-acme", &metadata(&key.cert_der, Some("encryption")))
        .await;
    assert_eq!(sp.encryption_certs.len(), 1);
    assert!(sp.signing_certs.is_empty());
    let cert = w.idp_cert().await;
    let q = redirect_query(
        &crate::saml::authn_request("_e1", SP, SSO, ACS, false),
        None,
        None,
    );
    let r = w.sso_get(&q, true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let xml = String::from_utf8(
        B64.decode(form_value(&r.body, "SAMLResponse").expect("SAMLResponse"))
            .expect("base64"),
    )
    .expect("utf-8");
    let der = CertificateDer::from(cert.clone());
    Crypto::verify_signed_xml(xml.as_bytes(), &der, Some("ID")).expect("response signature");
    for needle in [
        "<saml:EncryptedAssertion><xenc:EncryptedData",
        "Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"",
        "Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"",
    ] {
        assert!(xml.contains(needle), "{needle} in {xml}");
    }
    assert!(!xml.contains("pat@globex.example") && !xml.contains("<saml:Assertion "));
    let assertion = decrypt(&xml, &key.key_der);
    assert!(assertion.starts_with("<saml:Assertion "), "{assertion}");
    assert!(assertion.contains("pat@globex.example"));
    assert!(assertion.contains("InResponseTo=\"_e1\""));
    Crypto::verify_signed_xml(assertion.as_bytes(), &der, Some("ID"))
        .expect("the decrypted assertion's own signature");
    // Another SP's key cannot open it.
    let other = sp_key();
    let pkey = openssl::pkey::PKey::private_key_from_der(&other.key_der).expect("key");
    let mut dec = openssl::encrypt::Decrypter::new(&pkey).expect("decrypter");
    dec.set_rsa_padding(openssl::rsa::Padding::PKCS1_OAEP)
        .expect("oaep");
    let wrapped = &cipher_values(&xml)[0];
    let mut out = vec![0u8; dec.decrypt_len(wrapped).expect("len")];
    assert!(dec.decrypt(wrapped, &mut out).is_err());
}

#[tokio::test]
async fn a_key_without_use_only_verifies_signatures() {
    let w = world().await;
    let key = sp_key();
    let sp = w
        .register("globex-acme", &metadata(&key.cert_der, None))
        .await;
    assert!(sp.encryption_certs.is_empty());
    assert_eq!(sp.signing_certs.len(), 1);
    let q = redirect_query(
        &crate::saml::authn_request("_e2", SP, SSO, ACS, false),
        None,
        None,
    );
    let r = w.sso_get(&q, true).await;
    let xml = String::from_utf8(
        B64.decode(form_value(&r.body, "SAMLResponse").expect("SAMLResponse"))
            .expect("base64"),
    )
    .expect("utf-8");
    assert!(xml.contains("<saml:Assertion ") && !xml.contains("EncryptedAssertion"));
}
