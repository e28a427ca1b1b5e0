//! The master key and the keyed hash of credentials (security.md "Secrets at rest").
//!
//! One 32-byte master key. Credentials (enrolment links, API keys, SCIM tokens, session
//! ids, ...) are high-entropy random strings, stored only as HMAC-SHA-256 under a key
//! derived from the master key and compared in constant time. The database keeps a
//! key-check value so that a process holding another key refuses to start.

use crate::config::MasterKeySource;
use crate::error::{Error, Result};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const KEY_FILE: &str = "master.key";
const KEY_CHECK_META: &str = "master_key_check";

#[derive(Clone)]
pub struct MasterKey {
    /// HMAC keyed with the credential hash key, its pads already absorbed: each hash
    /// clones this state instead of keying again (two compressions fewer per credential).
    hasher: HmacSha256,
    seal_key: [u8; 32],
    check: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(t).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
            .ok()?
    };
    bytes.try_into().ok()
}

impl MasterKey {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        MasterKey {
            hasher: keyed(&hmac(&key, &[b"tenantry credential hash v1"])),
            seal_key: hmac(&key, &[b"tenantry sealing key v1"]),
            check: hex::encode(&hmac(&key, &[b"tenantry key check v1"])[..16]),
        }
    }

    /// Load the key from its source; `DataDir` creates `{data_dir}/master.key` (0600) on
    /// first use, which only an SQLite deployment may rely on.
    pub fn load(source: &MasterKeySource, data_dir: &Path, allow_create: bool) -> Result<Self> {
        let bytes = match source {
            MasterKeySource::Inline(text) => decode_key(text).ok_or_else(|| {
                Error::invalid(
                    "master_key",
                    "TENANTRY_MASTER_KEY must be 32 bytes in base64 or hex",
                )
            })?,
            MasterKeySource::File(path) => read_key_file(path)?,
            MasterKeySource::DataDir => {
                let path = data_dir.join(KEY_FILE);
                if path.exists() {
                    read_key_file(&path)?
                } else if allow_create {
                    create_key_file(&path)?
                } else {
                    return Err(Error::invalid(
                        "master_key",
                        "PostgreSQL needs a master key shared by every process: set \
                         TENANTRY_MASTER_KEY or --master-key-file",
                    ));
                }
            }
        };
        Ok(MasterKey::from_bytes(bytes))
    }

    /// Record the key-check value on first start, refuse a different key afterwards.
    pub async fn check_against(&self, store: &crate::store::Store) -> Result<()> {
        let stored = store.init_meta(KEY_CHECK_META, &self.check).await?;
        if stored.as_bytes().ct_eq(self.check.as_bytes()).into() {
            Ok(())
        } else {
            Err(Error::invalid(
                "master_key",
                "the master key does not match the one this database was created with",
            ))
        }
    }

    /// The keyed hash of a credential, hex; `purpose` separates kinds of credential.
    pub fn hash_credential(&self, purpose: &str, secret: &str) -> String {
        let hex = self.credential_hex(purpose, secret);
        String::from_utf8_lossy(&hex).into_owned()
    }

    /// Constant-time check of a credential against a stored hash.
    pub fn verify_credential(&self, purpose: &str, secret: &str, stored: &str) -> bool {
        self.credential_hex(purpose, secret)
            .ct_eq(stored.as_bytes())
            .into()
    }

    fn credential_hex(&self, purpose: &str, secret: &str) -> [u8; 64] {
        let mut mac = self.hasher.clone();
        for p in [purpose.as_bytes(), secret.as_bytes()] {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        let mut hex = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(mac.finalize().into_bytes(), &mut hex);
        hex
    }
}

fn keyed(key: &[u8; 32]) -> HmacSha256 {
    // HMAC pads a key shorter than the block with zeros: a 32-byte key in a 64-byte block
    // is the same key, and the infallible constructor takes exactly one block.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
}

/// What a sealed value is bound to: a row copied to another tenant, table, row or purpose
/// does not open (security.md "Secrets at rest").
pub struct SealContext<'a> {
    pub tenant: &'a str,
    pub table: &'a str,
    pub row: &'a str,
    pub purpose: &'a str,
}

impl SealContext<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [self.tenant, self.table, self.row, self.purpose] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

impl MasterKey {
    fn aead(&self) -> Result<ring::aead::LessSafeKey> {
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &self.seal_key)
            .map(ring::aead::LessSafeKey::new)
            .map_err(|_| Error::internal("AEAD key"))
    }

    /// AES-256-GCM with a random nonce; base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, ctx: &SealContext<'_>, plaintext: &[u8]) -> Result<String> {
        use ring::rand::SecureRandom;
        let mut nonce = [0u8; 12];
        ring::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::internal("random nonce"))?;
        let mut buf = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(ctx.aad()),
                &mut buf,
            )
            .map_err(|_| Error::internal("seal"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, ctx: &SealContext<'_>, sealed: &str) -> Result<Vec<u8>> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| Error::internal("sealed value is not base64"))?;
        if raw.len() < 12 + 16 {
            return Err(Error::internal("sealed value too short"));
        }
        let (nonce, rest) = raw.split_at(12);
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| Error::internal("sealed nonce"))?;
        let mut buf = rest.to_vec();
        let plain = self
            .aead()?
            .open_in_place(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(ctx.aad()),
                &mut buf,
            )
            .map_err(|_| Error::internal("sealed value does not open with this key and context"))?;
        Ok(plain.to_vec())
    }
}

fn read_key_file(path: &Path) -> Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(
            "master_key",
            format!("cannot read master key file {}: {e}", path.display()),
        )
    })?;
    decode_key(&text).ok_or_else(|| {
        Error::invalid(
            "master_key",
            format!("{} must hold 32 bytes in base64 or hex", path.display()),
        )
    })
}

fn create_key_file(path: &Path) -> Result<[u8; 32]> {
    use rand::Rng;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", path.display())))?;
    writeln!(
        file,
        "{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
    .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored hashes must keep verifying: the prepared HMAC state gives exactly the
    /// hash of keying HMAC afresh each time.
    #[test]
    fn prepared_hasher_matches_fresh_hmac() {
        let master = [7u8; 32];
        let key = MasterKey::from_bytes(master);
        let hash_key = hmac(&master, &[b"tenantry credential hash v1"]);
        for (purpose, secret) in [
            ("client", "tnt_cs_abc"),
            ("", ""),
            ("scim", "x".repeat(300).as_str()),
        ] {
            let fresh = hex::encode(hmac(&hash_key, &[purpose.as_bytes(), secret.as_bytes()]));
            assert_eq!(key.hash_credential(purpose, secret), fresh);
            assert!(key.verify_credential(purpose, secret, &fresh));
            assert!(!key.verify_credential(purpose, &format!("{secret}x"), &fresh));
            assert!(!key.verify_credential(purpose, secret, &fresh[..63]));
        }
    }
}
