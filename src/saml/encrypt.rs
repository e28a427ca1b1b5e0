//! Assertion encryption (saml-core-2.0-os §2.3.4, XML Encryption 1.1) for SPs whose
//! metadata has a KeyDescriptor with `use="encryption"`: the signed Assertion becomes the
//! EncryptedData of an EncryptedAssertion, AES-256-GCM with a fresh key, and that key is
//! sent in an EncryptedKey with RSA-OAEP (MGF1 with SHA-1, SHA-1 digest:
//! `xmlenc#rsa-oaep-mgf1p`, which every SAML library reads) for the SP's certificate.

use base64::Engine;
use openssl::encrypt::Encrypter;
use openssl::rsa::Padding;
use openssl::symm::{encrypt_aead, Cipher};

const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const RSA_OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// `<saml:EncryptedAssertion>` holding `assertion` (a self-contained element: it declares
/// its own namespaces) for the holder of `cert_der`.
pub fn encrypt_assertion(assertion: &str, cert_der: &[u8]) -> Result<String, String> {
    let err = |what: &str, e: openssl::error::ErrorStack| format!("{what}: {e}");
    let cert = openssl::x509::X509::from_der(cert_der)
        .map_err(|e| err("the SP's encryption certificate", e))?;
    let public = cert
        .public_key()
        .map_err(|e| err("the SP's encryption key", e))?;
    if public.rsa().is_err() {
        return Err("the SP's encryption key is not an RSA key".into());
    }
    let mut key = [0u8; 32];
    let mut iv = [0u8; 12];
    openssl::rand::rand_bytes(&mut key).map_err(|e| err("random key", e))?;
    openssl::rand::rand_bytes(&mut iv).map_err(|e| err("random IV", e))?;
    let mut tag = [0u8; 16];
    let ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        &key,
        Some(&iv),
        &[],
        assertion.as_bytes(),
        &mut tag,
    )
    .map_err(|e| err("AES-GCM", e))?;
    let mut data = Vec::with_capacity(iv.len() + ciphertext.len() + tag.len());
    data.extend_from_slice(&iv);
    data.extend_from_slice(&ciphertext);
    data.extend_from_slice(&tag);
    let mut enc = Encrypter::new(&public).map_err(|e| err("RSA-OAEP", e))?;
    enc.set_rsa_padding(Padding::PKCS1_OAEP)
        .map_err(|e| err("RSA-OAEP", e))?;
    let mut wrapped = vec![0u8; enc.encrypt_len(&key).map_err(|e| err("RSA-OAEP", e))?];
    let n = enc
        .encrypt(&key, &mut wrapped)
        .map_err(|e| err("RSA-OAEP", e))?;
    wrapped.truncate(n);
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(format!(
        "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" \
Type=\"http://www.w3.org/2001/04/xmlenc#Element\"><xenc:EncryptionMethod Algorithm=\"{AES256_GCM}\"/>\
<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey>\
<xenc:EncryptionMethod Algorithm=\"{RSA_OAEP}\"><ds:DigestMethod Algorithm=\"{SHA1}\"/></xenc:EncryptionMethod>\
<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>\
<xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>\
</saml:EncryptedAssertion>",
        key = b64.encode(&wrapped),
        data = b64.encode(&data),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::symm::decrypt_aead;

    #[test]
    fn round_trips_with_the_private_key() {
        let rsa = openssl::rsa::Rsa::generate(2048).expect("rsa");
        let pkey = openssl::pkey::PKey::from_rsa(rsa).expect("pkey");
        let mut b = openssl::x509::X509Builder::new().expect("builder");
        b.set_pubkey(&pkey).expect("pubkey");
        let start = openssl::asn1::Asn1Time::days_from_now(0).expect("time");
        let end = openssl::asn1::Asn1Time::days_from_now(1).expect("time");
        b.set_not_before(&start).expect("not before");
        b.set_not_after(&end).expect("not after");
        b.sign(&pkey, openssl::hash::MessageDigest::sha256())
            .expect("sign");
        let cert = b.build().to_der().expect("der");
        let xml =
            encrypt_assertion("<saml:Assertion xmlns:saml=\"urn:x\"/>", &cert).expect("encrypt");
        let values: Vec<&str> = xml
            .split("<xenc:CipherValue>")
            .skip(1)
            .map(|s| s.split('<').next().expect("value"))
            .collect();
        let b64 = base64::engine::general_purpose::STANDARD;
        let wrapped = b64.decode(values[0]).expect("b64");
        let mut dec = openssl::encrypt::Decrypter::new(&pkey).expect("decrypter");
        dec.set_rsa_padding(Padding::PKCS1_OAEP).expect("oaep");
        let mut key = vec![0u8; dec.decrypt_len(&wrapped).expect("len")];
        let n = dec.decrypt(&wrapped, &mut key).expect("unwrap");
        key.truncate(n);
        let data = b64.decode(values[1]).expect("b64");
        let (iv, rest) = data.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let plain =
            decrypt_aead(Cipher::aes_256_gcm(), &key, Some(iv), &[], ct, tag).expect("decrypt");
        assert_eq!(plain, b"<saml:Assertion xmlns:saml=\"urn:x\"/>");
        // Another key cannot read it.
        let other = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa"))
            .expect("pkey");
        let mut dec = openssl::encrypt::Decrypter::new(&other).expect("decrypter");
        dec.set_rsa_padding(Padding::PKCS1_OAEP).expect("oaep");
        let mut out = vec![0u8; dec.decrypt_len(&wrapped).expect("len")];
        assert!(dec.decrypt(&wrapped, &mut out).is_err());
    }
}
