//! A lean software authenticator for the passkey benchmark: the load generator's part of a
//! WebAuthn ceremony (CTAP2 "none" attestation, ES256 assertions signed with OpenSSL),
//! written directly so that the client's own cost stays small next to the server's.
//! webauthn-authenticator-rs's SoftPasskey (used by the integration tests) spends about
//! 0.4 ms per assertion on this machine, which on 2 shared cores would cap the measured
//! sign-in rate well below the server's.
//!
//! It produces exactly what a browser posts (W3C WebAuthn §5.1 PublicKeyCredential in its
//! JSON form): clientDataJSON, authenticatorData with the RP id hash, UP and UV flags and a
//! counter that grows by one per assertion, and an ECDSA P-256 SHA-256 signature over
//! authenticatorData ‖ SHA-256(clientDataJSON). Like a passkey with a resident key it
//! returns the user handle. Nothing the server checks is skipped or relaxed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// authenticatorData flags (WebAuthn §6.1): user present, user verified, attested data.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub struct Device {
    key: PKey<Private>,
    credential_id: Vec<u8>,
    user_handle: String,
    rp_id_hash: [u8; 32],
    counter: u32,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// CBOR (RFC 8949) header of a major type with a length or value.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: usize) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len());
    out.extend_from_slice(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": kind,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": false,
    }))
    .expect("client data JSON")
}

impl Device {
    pub fn new() -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
        let ec = EcKey::generate(&group).expect("P-256 key");
        let mut credential_id = vec![0u8; 32];
        openssl::rand::rand_bytes(&mut credential_id).expect("random credential id");
        Device {
            key: PKey::from_ec_key(ec).expect("key"),
            credential_id,
            user_handle: String::new(),
            rp_id_hash: [0; 32],
            counter: 0,
        }
    }

    /// The COSE_Key (RFC 9053 §7.1.1, EC2, ES256) of the public key.
    fn cose_key(&self) -> Vec<u8> {
        let ec = self.key.ec_key().expect("EC key");
        let mut ctx = BigNumContext::new().expect("bn ctx");
        let (mut x, mut y) = (
            openssl::bn::BigNum::new().expect("bn"),
            openssl::bn::BigNum::new().expect("bn"),
        );
        ec.public_key()
            .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
            .expect("public point");
        let mut out = Vec::with_capacity(77);
        cbor_head(&mut out, 5, 5);
        out.extend([0x01, 0x02]); // kty: EC2
        out.extend([0x03, 0x26]); // alg: ES256 (-7)
        out.extend([0x20, 0x01]); // crv (-1): P-256
        out.push(0x21); // x (-2)
        cbor_bytes(&mut out, &x.to_vec_padded(32).expect("x"));
        out.push(0x22); // y (-3)
        cbor_bytes(&mut out, &y.to_vec_padded(32).expect("y"));
        out
    }

    /// Answer registration options (`{"publicKey": {...}}`) from `origin`.
    pub fn register(&mut self, origin: &str, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().expect("options name the RP id");
        let challenge = pk["challenge"].as_str().expect("options carry a challenge");
        self.user_handle = pk["user"]["id"]
            .as_str()
            .expect("registration options carry a user id")
            .to_string();
        self.rp_id_hash = sha256(rp_id.as_bytes());
        let client_data = client_data("webauthn.create", challenge, origin);
        let mut auth_data = Vec::with_capacity(200);
        auth_data.extend_from_slice(&self.rp_id_hash);
        auth_data.push(UP | UV | AT);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::with_capacity(auth_data.len() + 40);
        cbor_head(&mut attestation, 5, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_head(&mut attestation, 5, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        let id = b64(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
    }

    /// Answer usernameless login options the way a browser with this passkey would.
    pub fn assert(&mut self, origin: &str, options: &Value) -> Result<Value, String> {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"]
            .as_str()
            .ok_or("login options carry no challenge")?;
        if let Some(rp_id) = pk["rpId"].as_str() {
            if sha256(rp_id.as_bytes()) != self.rp_id_hash {
                return Err(format!("this passkey is not for {rp_id}"));
            }
        }
        self.counter += 1;
        let client_data = client_data("webauthn.get", challenge, origin);
        let mut auth_data = Vec::with_capacity(37);
        auth_data.extend_from_slice(&self.rp_id_hash);
        auth_data.push(UP | UV);
        auth_data.extend(self.counter.to_be_bytes());
        let mut signer =
            Signer::new(MessageDigest::sha256(), &self.key).map_err(|e| e.to_string())?;
        signer.update(&auth_data).map_err(|e| e.to_string())?;
        signer
            .update(&sha256(&client_data))
            .map_err(|e| e.to_string())?;
        let signature = signer.sign_to_vec().map_err(|e| e.to_string())?;
        let id = b64(&self.credential_id);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": self.user_handle,
            },
            "extensions": {},
        }))
    }
}
