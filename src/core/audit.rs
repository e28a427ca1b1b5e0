//! The tenant's tamper-evident audit chain (security.md "Audit chain").
//!
//! Entry hash = SHA-256(previous hash ‖ canonical JSON of a fixed field list). The JSON is
//! canonical in the RFC 8785 sense for the values we write (objects with sorted ASCII
//! keys, strings, integers, null), which serde_json's sorted maps produce. Checkpoints
//! signed with the audit key arrive with the admin API issue.

use crate::error::Result;
use crate::ids::TenantId;
use crate::store::{audit as rows, Conn};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Who did it: a user id (or `cli` for the server's own command line), and for MSP users
/// acting in a customer, from which MSP.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub msp: Option<String>,
    pub msp_user: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Actor {
            id: "cli".into(),
            msp: None,
            msp_user: None,
        }
    }
}

pub struct Change<'a> {
    pub action: &'a str,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

fn hash_entry(prev_hash: &str, e: &rows::EntryRow) -> String {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .unwrap_or(Value::Null)
    };
    let canonical = json!({
        "seq": e.seq,
        "time": e.at,
        "actor": e.actor,
        "actor_msp": e.actor_msp,
        "actor_msp_user": e.actor_msp_user,
        "action": e.action,
        "target": e.target,
        "before": parse(&e.before_state),
        "after": parse(&e.after_state),
        "request_id": e.request_id,
    });
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Append one entry to the tenant's chain, inside the caller's transaction.
pub async fn append(
    conn: &mut Conn,
    tenant: &TenantId,
    actor: &Actor,
    change: Change<'_>,
    now: i64,
    request_id: Option<&str>,
) -> Result<i64> {
    let (seq, prev_hash) = rows::advance_head(conn, tenant).await?;
    let mut entry = rows::EntryRow {
        seq,
        at: now,
        actor: actor.id.clone(),
        actor_msp: actor.msp.clone(),
        actor_msp_user: actor.msp_user.clone(),
        action: change.action.to_string(),
        target: change.target,
        before_state: change.before.map(|v| v.to_string()),
        after_state: change.after.map(|v| v.to_string()),
        request_id: request_id.map(str::to_string),
        prev_hash: prev_hash.clone(),
        hash: String::new(),
    };
    entry.hash = hash_entry(&prev_hash, &entry);
    rows::insert_entry(conn, tenant, &entry).await?;
    Ok(seq)
}

/// Re-hash the whole chain; `Ok(None)` when intact, else the first broken seq.
pub async fn verify(conn: &mut Conn, tenant: &TenantId) -> Result<Option<i64>> {
    let mut prev = rows::GENESIS.to_string();
    for (expected_seq, e) in (1..).zip(rows::entries(conn, tenant).await?) {
        if e.seq != expected_seq || e.prev_hash != prev || hash_entry(&prev, &e) != e.hash {
            return Ok(Some(e.seq));
        }
        prev = e.hash;
    }
    Ok(None)
}
