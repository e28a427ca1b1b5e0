//! The tenant's tamper-evident audit chain (security.md "Audit chain").
//!
//! Entry hash = SHA-256(previous hash ‖ canonical JSON of a fixed field list). The JSON is
//! canonical in the RFC 8785 sense for the values we write (objects with sorted ASCII
//! keys, strings, integers, null), which serde_json's sorted maps produce. Every 100
//! entries, or when the newest checkpoint is 10 minutes old, (seq, hash) is signed with
//! the tenant's audit key and written both to `audit_checkpoints` and to the log, so rows
//! deleted after the last checkpoint are still detectable.

use super::keys;
use super::secrets::MasterKey;
use crate::error::Result;
use crate::ids::TenantId;
use crate::store::{audit as rows, Conn};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

pub const CHECKPOINT_EVERY: i64 = 100;
pub const CHECKPOINT_SECONDS: i64 = 600;

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

fn checkpoint_message(tenant: &TenantId, seq: i64, hash: &str) -> Vec<u8> {
    format!("tenantry audit checkpoint v1\n{tenant}\n{seq}\n{hash}").into_bytes()
}

/// The head each tenant's chain had after this process's last append: (seq, hash, when
/// the newest checkpoint was signed). A hint only: an append first tries to advance the
/// head from it in one statement that checks seq and hash, and falls back to reading the
/// head when another process, a rolled-back transaction or an edit moved it.
type CachedHead = (i64, String, Option<i64>);
static HEADS: LazyLock<Mutex<HashMap<String, CachedHead>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn cached_head(tenant: &TenantId) -> Option<CachedHead> {
    HEADS.lock().ok()?.get(tenant.as_str()).cloned()
}

fn cache_head(tenant: &TenantId, head: CachedHead) {
    if let Ok(mut heads) = HEADS.lock() {
        heads.insert(tenant.as_str().to_string(), head);
    }
}

/// An entry of `change` by `actor`, not yet placed in the chain (no seq, no hashes).
fn new_entry(
    actor: &Actor,
    change: Change<'_>,
    now: i64,
    request_id: Option<&str>,
) -> rows::EntryRow {
    rows::EntryRow {
        seq: 0,
        at: now,
        actor: actor.id.clone(),
        actor_msp: actor.msp.clone(),
        actor_msp_user: actor.msp_user.clone(),
        action: change.action.to_string(),
        target: change.target,
        before_state: change.before.map(|v| v.to_string()),
        after_state: change.after.map(|v| v.to_string()),
        request_id: request_id.map(str::to_string),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// Append one entry to the tenant's chain, inside the caller's transaction.
pub async fn append(
    keys: &MasterKey,
    conn: &mut Conn,
    tenant: &TenantId,
    actor: &Actor,
    change: Change<'_>,
    now: i64,
    request_id: Option<&str>,
) -> Result<i64> {
    let mut entry = new_entry(actor, change, now, request_id);
    let mut appended = None;
    if let Some((seq, hash, last_checkpoint_at)) = cached_head(tenant) {
        entry.seq = seq + 1;
        entry.hash = hash_entry(&hash, &entry);
        entry.prev_hash = hash;
        if rows::advance_head_from(conn, tenant, seq, &entry.prev_hash, &entry.hash).await? {
            rows::insert_entry_row(conn, tenant, &entry).await?;
            appended = Some(last_checkpoint_at);
        }
    }
    let last_checkpoint_at = match appended {
        Some(at) => at,
        None => {
            let rows::Head {
                seq,
                prev_hash,
                last_checkpoint_at,
            } = rows::advance_head(conn, tenant).await?;
            entry.seq = seq;
            entry.hash = hash_entry(&prev_hash, &entry);
            entry.prev_hash = prev_hash;
            rows::insert_entry(conn, tenant, &entry).await?;
            last_checkpoint_at
        }
    };
    let seq = entry.seq;
    let mut checkpointed = last_checkpoint_at;
    if checkpoint_due(seq, last_checkpoint_at, now) {
        checkpoint(keys, conn, tenant, seq, &entry.hash, now).await?;
        checkpointed = Some(now);
    }
    cache_head(tenant, (seq, entry.hash, checkpointed));
    Ok(seq)
}

/// Is a checkpoint due at entry `seq`: every [`CHECKPOINT_EVERY`] entries, or once
/// [`CHECKPOINT_SECONDS`] passed since the last one.
fn checkpoint_due(seq: i64, last_checkpoint_at: Option<i64>, now: i64) -> bool {
    match last_checkpoint_at {
        _ if seq % CHECKPOINT_EVERY == 0 => true,
        Some(at) => now - at >= CHECKPOINT_SECONDS,
        None => false,
    }
}

/// [`append`] inside a direct SQLite transaction (store/direct.rs), for the sign-in hot
/// path: only when this process's head hint is still the chain's head and no checkpoint
/// is due. Otherwise nothing is written and false tells the caller to roll back and take
/// the pooled path, which reads the head and signs the checkpoint.
pub fn append_direct(
    tx: &mut crate::store::direct::DirectTx<'_>,
    tenant: &TenantId,
    actor: &Actor,
    change: Change<'_>,
    now: i64,
    request_id: Option<&str>,
) -> Result<bool> {
    let Some((seq, hash, last_checkpoint_at)) = cached_head(tenant) else {
        return Ok(false);
    };
    if checkpoint_due(seq + 1, last_checkpoint_at, now) {
        return Ok(false);
    }
    let mut entry = new_entry(actor, change, now, request_id);
    entry.seq = seq + 1;
    entry.prev_hash = hash;
    entry.hash = hash_entry(&entry.prev_hash, &entry);
    if !crate::store::hot::append_entry(tx, tenant, seq, &entry)? {
        return Ok(false);
    }
    cache_head(tenant, (entry.seq, entry.hash, last_checkpoint_at));
    Ok(true)
}

/// Sign (seq, hash) with the tenant's audit key; store it and write it to the log.
pub async fn checkpoint(
    keys: &MasterKey,
    conn: &mut Conn,
    tenant: &TenantId,
    seq: i64,
    hash: &str,
    now: i64,
) -> Result<()> {
    let signer = keys::audit_signer(keys, conn, tenant, now).await?;
    let signature = signer.sign(&checkpoint_message(tenant, seq, hash));
    rows::insert_checkpoint(
        conn,
        tenant,
        &rows::CheckpointRow {
            seq,
            hash: hash.to_string(),
            key_id: signer.key_id.clone(),
            signature: signature.clone(),
            at: now,
        },
    )
    .await?;
    tracing::info!(target: "tenantry::audit_checkpoint", tenant = %tenant, seq, hash, key_id = %signer.key_id, signature = %signature, "audit checkpoint");
    Ok(())
}

/// What verification found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    pub intact: bool,
    pub entries: i64,
    pub checkpoints: i64,
    /// The first entry (or checkpoint) seq at which the chain is broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Re-hash the whole chain, check every checkpoint's signature and that the chain still
/// reaches the newest checkpoint and the head.
pub async fn verify(conn: &mut Conn, tenant: &TenantId) -> Result<Verification> {
    let entries = rows::entries(conn, tenant).await?;
    let checkpoints = rows::checkpoints(conn, tenant).await?;
    let report = |seq: Option<i64>, problem: Option<String>| Verification {
        intact: seq.is_none(),
        entries: entries.len() as i64,
        checkpoints: checkpoints.len() as i64,
        first_broken_seq: seq,
        problem,
    };
    let mut prev = rows::GENESIS.to_string();
    let mut hashes = std::collections::HashMap::new();
    for (expected_seq, e) in (1..).zip(entries.iter()) {
        if e.seq != expected_seq {
            return Ok(report(
                Some(expected_seq),
                Some(format!("entry {expected_seq} is missing")),
            ));
        }
        if e.prev_hash != prev || hash_entry(&prev, e) != e.hash {
            return Ok(report(
                Some(e.seq),
                Some(format!("entry {} does not match its hash", e.seq)),
            ));
        }
        prev = e.hash.clone();
        hashes.insert(e.seq, e.hash.clone());
    }
    for c in &checkpoints {
        let signed = keys::verify(
            conn,
            tenant,
            &c.key_id,
            &checkpoint_message(tenant, c.seq, &c.hash),
            &c.signature,
        )
        .await?;
        if !signed {
            return Ok(report(
                Some(c.seq),
                Some(format!("checkpoint {} has a bad signature", c.seq)),
            ));
        }
        match hashes.get(&c.seq) {
            Some(h) if *h == c.hash => {}
            Some(_) => {
                return Ok(report(
                    Some(c.seq),
                    Some(format!("entry {} differs from its checkpoint", c.seq)),
                ))
            }
            None => {
                let first_missing = entries.len() as i64 + 1;
                return Ok(report(
                    Some(first_missing),
                    Some(format!(
                        "entries from {first_missing} to checkpoint {} were removed",
                        c.seq
                    )),
                ));
            }
        }
    }
    let last = entries.last().map(|e| (e.seq, e.hash.clone()));
    match (rows::head(conn, tenant).await?, last) {
        (None, None) => {}
        (Some((seq, hash)), Some((last_seq, last_hash)))
            if seq == last_seq && hash == last_hash => {}
        (Some((seq, _)), last) => {
            let first_missing = last.map(|(s, _)| s + 1).unwrap_or(1);
            return Ok(report(
                Some(first_missing.min(seq)),
                Some(format!(
                    "the chain head is at {seq} but the entries end before it"
                )),
            ));
        }
        (None, Some(_)) => return Ok(report(Some(1), Some("the chain head is missing".into()))),
    }
    Ok(report(None, None))
}
