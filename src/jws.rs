//! JSON Web Signatures (RFC 7515 compact form) with ring: ES256, EdDSA (Ed25519), RS256.
//!
//! Verification never trusts the token's header for key material or algorithm: the
//! caller looks the key up by (tenant, kid) in our own store and the key's algorithm must
//! equal the header's `alg`. `none`, HMAC algorithms and headers that carry or point to
//! keys (`jwk`, `jku`, `x5u`, `x5c`) or demand extensions (`crit`) are refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Es256,
    EdDsa,
    Rs256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::Es256),
            "EdDSA" => Some(Alg::EdDsa),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }

    pub const ALL: [Alg; 3] = [Alg::Es256, Alg::EdDsa, Alg::Rs256];
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("forbidden header")]
    Header,
    #[error("bad signature")]
    Signature,
    #[error("key error")]
    Key,
}

/// A private signing key (PKCS#8 DER inside).
pub enum SigningKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

impl SigningKey {
    pub fn from_pkcs8(alg: Alg, der: &[u8]) -> Result<SigningKey, JwsError> {
        let rng = SystemRandom::new();
        Ok(match alg {
            Alg::Es256 => SigningKey::Es256(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                    .map_err(|_| JwsError::Key)?,
            ),
            Alg::EdDsa => SigningKey::EdDsa(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| JwsError::Key)?,
            ),
            Alg::Rs256 => {
                SigningKey::Rs256(RsaKeyPair::from_pkcs8(der).map_err(|_| JwsError::Key)?)
            }
        })
    }

    pub fn alg(&self) -> Alg {
        match self {
            SigningKey::Es256(_) => Alg::Es256,
            SigningKey::EdDsa(_) => Alg::EdDsa,
            SigningKey::Rs256(_) => Alg::Rs256,
        }
    }

    /// Sign `out` as it stands (the signing input), then append `.` and the signature,
    /// base64url.
    fn append_signature(&self, out: &mut String) -> Result<(), JwsError> {
        let (ring_sig, rsa_sig);
        let sig: &[u8] = match self {
            SigningKey::Es256(k) => {
                ring_sig = k
                    .sign(&SystemRandom::new(), out.as_bytes())
                    .map_err(|_| JwsError::Key)?;
                ring_sig.as_ref()
            }
            SigningKey::EdDsa(k) => {
                ring_sig = k.sign(out.as_bytes());
                ring_sig.as_ref()
            }
            SigningKey::Rs256(k) => {
                let mut buf = vec![0u8; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    out.as_bytes(),
                    &mut buf,
                )
                .map_err(|_| JwsError::Key)?;
                rsa_sig = buf;
                &rsa_sig
            }
        };
        out.push('.');
        B64URL.encode_string(sig, out);
        Ok(())
    }

    /// A compact JWS over `claims` with header {alg, kid, typ}.
    pub fn sign<C: serde::Serialize + ?Sized>(
        &self,
        kid: &str,
        typ: &str,
        claims: &C,
    ) -> Result<String, JwsError> {
        #[derive(serde::Serialize)]
        struct Header<'a> {
            alg: &'static str,
            kid: &'a str,
            typ: &'a str,
        }
        let header = Header {
            alg: self.alg().as_str(),
            kid,
            typ,
        };
        // Header and claims are serialized into this thread's scratch buffer, then encoded
        // straight into the token: the token is the one allocation.
        with_scratch(|buf| {
            serde_json::to_writer(&mut *buf, &header).map_err(|_| JwsError::Malformed)?;
            let header_len = buf.len();
            serde_json::to_writer(&mut *buf, claims).map_err(|_| JwsError::Malformed)?;
            let (header, claims) = buf.split_at(header_len);
            let sig_len = match self {
                SigningKey::Es256(_) | SigningKey::EdDsa(_) => 64,
                SigningKey::Rs256(k) => k.public().modulus_len(),
            };
            let b64 = |n: usize| n.div_ceil(3) * 4;
            let mut out =
                String::with_capacity(b64(header.len()) + b64(claims.len()) + b64(sig_len) + 2);
            B64URL.encode_string(header, &mut out);
            out.push('.');
            B64URL.encode_string(claims, &mut out);
            self.append_signature(&mut out)?;
            Ok(out)
        })
    }
}

/// Run `f` with this thread's scratch buffer, empty. Serializing into it instead of a
/// fresh `Vec` saves the allocations and regrowth of every token; a buffer that grew past
/// 64 KiB (a token with very many claims) is not kept. Never held across an await.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let r = f(&mut buf);
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            r
        }
        // Re-entered (cannot happen today): a buffer of its own.
        Err(_) => f(&mut Vec::new()),
    })
}

/// A public key for verification, as stored (its JWK).
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    pub alg: Alg,
    /// EC: uncompressed point; Ed25519: 32 bytes; RSA: DER RSAPublicKey (PKCS#1).
    pub bytes: Vec<u8>,
}

impl VerifyingKey {
    /// From a public JWK (EC P-256, OKP Ed25519, RSA).
    pub fn from_jwk(jwk: &Value) -> Result<VerifyingKey, JwsError> {
        let b = |k: &str| -> Result<Vec<u8>, JwsError> {
            jwk[k]
                .as_str()
                .and_then(|s| B64URL.decode(s).ok())
                .ok_or(JwsError::Key)
        };
        match jwk["kty"].as_str() {
            Some("EC") if jwk["crv"] == "P-256" => {
                let (x, y) = (b("x")?, b("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JwsError::Key);
                }
                let mut bytes = vec![4u8];
                bytes.extend(x);
                bytes.extend(y);
                Ok(VerifyingKey {
                    alg: Alg::Es256,
                    bytes,
                })
            }
            Some("OKP") if jwk["crv"] == "Ed25519" => Ok(VerifyingKey {
                alg: Alg::EdDsa,
                bytes: b("x")?,
            }),
            Some("RSA") => {
                let (n, e) = (b("n")?, b("e")?);
                Ok(VerifyingKey {
                    alg: Alg::Rs256,
                    bytes: rsa_public_der(&n, &e),
                })
            }
            _ => Err(JwsError::Key),
        }
    }

    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), JwsError> {
        let algo: &dyn signature::VerificationAlgorithm = match self.alg {
            Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &signature::ED25519,
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(algo, &self.bytes)
            .verify(msg, sig)
            .map_err(|_| JwsError::Signature)
    }
}

/// DER of RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
fn rsa_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, l: usize) {
        if l < 0x80 {
            out.push(l as u8);
        } else {
            let bytes: Vec<u8> = l
                .to_be_bytes()
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
    }
    fn int(out: &mut Vec<u8>, v: &[u8]) {
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let pad = v.first().is_some_and(|b| b & 0x80 != 0);
        out.push(0x02);
        len(out, v.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend(v);
    }
    let mut body = Vec::new();
    int(&mut body, n);
    int(&mut body, e);
    let mut out = vec![0x30];
    len(&mut out, body.len());
    out.extend(body);
    out
}

/// A parsed, not yet verified token.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Parsed {
    pub fn kid(&self) -> Option<&str> {
        self.header["kid"].as_str()
    }

    pub fn typ(&self) -> Option<&str> {
        self.header["typ"].as_str()
    }

    /// Verify with our own key; the header's `alg` must name the key's algorithm.
    pub fn verify(&self, key: &VerifyingKey) -> Result<&Value, JwsError> {
        if self.header["alg"].as_str() != Some(key.alg.as_str()) {
            return Err(JwsError::Algorithm);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)?;
        Ok(&self.claims)
    }
}

/// Split and decode a compact JWS, refusing what we never accept before any key is used.
pub fn parse(token: &str) -> Result<Parsed, JwsError> {
    if token.len() > 16 * 1024 {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header: Value = B64URL
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwsError::Malformed)?;
    let claims: Value = B64URL
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwsError::Malformed)?;
    let signature = B64URL.decode(s).map_err(|_| JwsError::Malformed)?;
    if !header.is_object() || !claims.is_object() {
        return Err(JwsError::Malformed);
    }
    match header["alg"].as_str().and_then(Alg::parse) {
        Some(_) => {}
        None => return Err(JwsError::Algorithm),
    }
    for forbidden in ["jwk", "jku", "x5u", "x5c", "crit"] {
        if header.get(forbidden).is_some() {
            return Err(JwsError::Header);
        }
    }
    Ok(Parsed {
        header,
        claims,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

/// A fresh key pair: (PKCS#8 DER of the private key, public JWK without kid). RSA is slow:
/// call this from spawn_blocking.
pub fn generate(alg: Alg) -> Result<(Vec<u8>, Value), JwsError> {
    let rng = SystemRandom::new();
    match alg {
        Alg::Es256 => {
            let der =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| JwsError::Key)?;
            let pair = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der.as_ref(),
                &rng,
            )
            .map_err(|_| JwsError::Key)?;
            let point = pair.public_key().as_ref();
            let jwk = json!({
                "kty": "EC", "crv": "P-256",
                "x": B64URL.encode(&point[1..33]),
                "y": B64URL.encode(&point[33..65]),
            });
            Ok((der.as_ref().to_vec(), jwk))
        }
        Alg::EdDsa => {
            let der = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| JwsError::Key)?;
            let pair = Ed25519KeyPair::from_pkcs8(der.as_ref()).map_err(|_| JwsError::Key)?;
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(pair.public_key().as_ref())});
            Ok((der.as_ref().to_vec(), jwk))
        }
        Alg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let mut rng = rsa::rand_core::OsRng;
            let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|_| JwsError::Key)?;
            let der = key.to_pkcs8_der().map_err(|_| JwsError::Key)?;
            let jwk = json!({
                "kty": "RSA",
                "n": B64URL.encode(key.n().to_bytes_be()),
                "e": B64URL.encode(key.e().to_bytes_be()),
            });
            Ok((der.as_bytes().to_vec(), jwk))
        }
    }
}

/// The RFC 7638 thumbprint of a public JWK: a stable `kid`.
pub fn thumbprint(jwk: &Value) -> String {
    use sha2::{Digest, Sha256};
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => json!({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}),
        Some("OKP") => json!({"crv": jwk["crv"], "kty": "OKP", "x": jwk["x"]}),
        _ => json!({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}),
    };
    B64URL.encode(Sha256::digest(canonical.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_every_algorithm() {
        for alg in Alg::ALL {
            let (der, jwk) = generate(alg).expect("generate");
            let key = SigningKey::from_pkcs8(alg, &der).expect("load");
            let token = key.sign("k1", "JWT", &json!({"sub": "x"})).expect("sign");
            let parsed = parse(&token).expect("parse");
            let vk = VerifyingKey::from_jwk(&jwk).expect("jwk");
            assert_eq!(parsed.verify(&vk).expect("verify")["sub"], "x");
            // A token signed by another key of the same algorithm fails.
            let (_, other) = generate(alg).expect("generate");
            assert!(parsed
                .verify(&VerifyingKey::from_jwk(&other).expect("jwk"))
                .is_err());
        }
    }

    #[test]
    fn refuses_none_hmac_and_embedded_keys() {
        let body = B64URL.encode(b"{\"sub\":\"x\"}");
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS256","kid":"k"}"#,
            r#"{"alg":"ES256","jwk":{"kty":"EC"}}"#,
            r#"{"alg":"ES256","jku":"https://evil"}"#,
        ] {
            let t = format!("{}.{body}.", B64URL.encode(header));
            assert!(parse(&t).is_err(), "{header}");
        }
        // A header naming another algorithm than the key's.
        let (der, jwk) = generate(Alg::Es256).expect("generate");
        let _ = der;
        let t = format!(
            "{}.{body}.{}",
            B64URL.encode(r#"{"alg":"EdDSA","kid":"k"}"#),
            B64URL.encode([0u8; 64])
        );
        let p = parse(&t).expect("parses");
        assert_eq!(
            p.verify(&VerifyingKey::from_jwk(&jwk).expect("jwk")).err(),
            Some(JwsError::Algorithm)
        );
    }
}
