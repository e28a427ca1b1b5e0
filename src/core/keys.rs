//! Tenant signing keys (security.md "Several processes" key life cycle). This module holds
//! the audit key (Ed25519, via ring); the OIDC and SAML keys join it with their issues.
//! Private parts are sealed with the master key, bound to tenant, table, row and purpose.

use super::secrets::{MasterKey, SealContext};
use super::{Error, Result};
use crate::ids::TenantId;
use crate::store::{keys as rows, Conn};
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
pub const AUDIT: &str = "audit";
pub const ED25519_ALG: &str = "EdDSA";

fn seal_ctx<'a>(tenant: &'a TenantId, id: &'a str, purpose: &'a str) -> SealContext<'a> {
    SealContext {
        tenant: tenant.as_str(),
        table: "signing_keys",
        row: id,
        purpose,
    }
}

/// A loaded Ed25519 signing key.
pub struct Signer {
    pub key_id: String,
    pair: Ed25519KeyPair,
}

impl Signer {
    pub fn sign(&self, msg: &[u8]) -> String {
        B64.encode(self.pair.sign(msg).as_ref())
    }
}

/// The tenant's active audit key, created on first use.
pub async fn audit_signer(
    keys: &MasterKey,
    conn: &mut Conn,
    tenant: &TenantId,
    now: i64,
) -> Result<Signer> {
    if let Some(row) = rows::active(conn, tenant, AUDIT, ED25519_ALG).await? {
        return load(keys, tenant, &row);
    }
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| Error::internal("key generation"))?;
    let pair =
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| Error::internal("key parse"))?;
    let id = crate::ids::SigningKeyId::generate().to_string();
    let row = rows::KeyRow {
        id: id.clone(),
        purpose: AUDIT.into(),
        alg: ED25519_ALG.into(),
        public_key: B64.encode(pair.public_key().as_ref()),
        private_key: keys.seal(&seal_ctx(tenant, &id, AUDIT), pkcs8.as_ref())?,
        state: "active".into(),
        created_at: now,
    };
    rows::insert_active(conn, tenant, &row).await?;
    Ok(Signer { key_id: id, pair })
}

fn load(keys: &MasterKey, tenant: &TenantId, row: &rows::KeyRow) -> Result<Signer> {
    let pkcs8 = keys.open(&seal_ctx(tenant, &row.id, &row.purpose), &row.private_key)?;
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| Error::internal("stored key does not parse"))?;
    Ok(Signer {
        key_id: row.id.clone(),
        pair,
    })
}

/// Check an Ed25519 signature made by the tenant key `key_id` (public parts are kept forever).
pub async fn verify(
    conn: &mut Conn,
    tenant: &TenantId,
    key_id: &str,
    msg: &[u8],
    signature: &str,
) -> Result<bool> {
    let Some(row) = rows::by_id(conn, tenant, key_id).await? else {
        return Ok(false);
    };
    let (Ok(public), Ok(sig)) = (B64.decode(&row.public_key), B64.decode(signature)) else {
        return Ok(false);
    };
    Ok(UnparsedPublicKey::new(&ED25519, public)
        .verify(msg, &sig)
        .is_ok())
}
