//! Loaded signing keys, kept in memory: decoding a PKCS#8 RSA key costs OpenSSL 3 about
//! as much as the RSA signature itself (and a fresh key recomputes its Montgomery tables),
//! so each tenant key is decoded once and then reused by every signature it makes.
//!
//! Keyed by the SHA-256 of the private key's DER, so that a rotated key is simply another
//! entry and a stale entry can never sign for a key it is not. Bounded: when full, the
//! cache starts over.

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// More tenants than this signing at once only costs a reload.
const MAX_KEYS: usize = 4096;

/// Loaded keys by the SHA-256 of their DER.
type Keys = HashMap<[u8; 32], Arc<PKey<Private>>>;

static KEYS: LazyLock<Mutex<Keys>> = LazyLock::new(Default::default);

/// The decoded key for `key_der` (PKCS#8 or PKCS#1 DER), from the cache when it is there.
pub fn key(key_der: &[u8]) -> Result<Arc<PKey<Private>>, String> {
    let fingerprint: [u8; 32] = Sha256::digest(key_der).into();
    if let Some(k) = KEYS.lock().ok().and_then(|m| m.get(&fingerprint).cloned()) {
        return Ok(k);
    }
    let pkey = PKey::private_key_from_der(key_der)
        .map_err(|e| format!("the signing key does not load: {e}"))?;
    if pkey.rsa().is_err() {
        return Err("the signing key is not an RSA key".into());
    }
    let pkey = Arc::new(pkey);
    if let Ok(mut m) = KEYS.lock() {
        if m.len() >= MAX_KEYS {
            m.clear();
        }
        m.insert(fingerprint, pkey.clone());
    }
    Ok(pkey)
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over `data` (XML-DSig `rsa-sha256`).
pub fn sign_rsa_sha256(key: &PKey<Private>, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key)
        .map_err(|e| format!("signer: {e}"))?;
    signer
        .sign_oneshot_to_vec(data)
        .map_err(|e| format!("RSA signature: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_once_and_refuses_garbage() {
        let rsa = openssl::rsa::Rsa::generate(2048).expect("rsa");
        let der = PKey::from_rsa(rsa)
            .expect("pkey")
            .private_key_to_pkcs8()
            .expect("pkcs8");
        let a = key(&der).expect("key");
        let b = key(&der).expect("key");
        assert!(Arc::ptr_eq(&a, &b));
        let sig = sign_rsa_sha256(&a, b"data").expect("sign");
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &a).expect("verifier");
        assert!(v.verify_oneshot(&sig, b"data").expect("verify"));
        assert!(key(b"not a key").is_err());
    }
}
