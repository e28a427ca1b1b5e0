//! The audit chain's rows: one head per tenant, entries appended under it, and the
//! server-level audit table for deletions that have no parent chain.

use super::{db, Conn};
use crate::error::{Error, Result};
use crate::ids::TenantId;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Advance the tenant's head by one and return it (see [`Head`]). The UPDATE takes
/// the head's row lock (PostgreSQL) or the write lock (SQLite), so the chain never forks.
pub async fn advance_head(conn: &mut Conn, tenant: &TenantId) -> Result<Head> {
    // One round trip in the common case: the head exists (it is created on first use).
    for _ in 0..2 {
        let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
            "UPDATE audit_heads SET seq = seq + 1 WHERE tenant_id = $1 RETURNING seq, hash, \
             (SELECT c.at FROM audit_checkpoints c WHERE c.tenant_id = $1 ORDER BY c.seq DESC LIMIT 1)",
        )
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        if let Some((seq, hash, last_checkpoint_at)) = row {
            return Ok(Head {
                seq,
                prev_hash: hash,
                last_checkpoint_at,
            });
        }
        sqlx::query(
            "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) \
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(GENESIS)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Err(Error::internal("audit head missing"))
}

/// The head just advanced: the new entry's seq, the previous entry's hash, and when the
/// newest checkpoint was signed (none yet: `None`).
#[derive(Debug, Clone)]
pub struct Head {
    pub seq: i64,
    pub prev_hash: String,
    pub last_checkpoint_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub actor_msp: Option<String>,
    pub actor_msp_user: Option<String>,
    pub action: String,
    pub target: String,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// SQL of [`advance_head_from`] (also run by the direct path, store/direct.rs).
pub const ADVANCE_HEAD_FROM_SQL: &str = "UPDATE audit_heads SET seq = $2 + 1, hash = $4 WHERE tenant_id = $1 AND seq = $2 AND hash = $3";

/// Advance the head from (seq, hash) as the caller last saw it to (seq + 1, `new_hash`) in
/// one statement; false (nothing changed) when the head has moved since.
pub async fn advance_head_from(
    conn: &mut Conn,
    tenant: &TenantId,
    seq: i64,
    hash: &str,
    new_hash: &str,
) -> Result<bool> {
    let r = sqlx::query(ADVANCE_HEAD_FROM_SQL)
        .bind(tenant.as_str())
        .bind(seq)
        .bind(hash)
        .bind(new_hash)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(r.rows_affected() == 1)
}

/// SQL of [`insert_entry_row`] (also run by the direct path).
pub const INSERT_ENTRY_SQL: &str =
    "INSERT INTO audit_log (tenant_id, seq, at, actor, actor_msp, actor_msp_user, action, target, \
         before_state, after_state, request_id, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Insert an entry whose head update was already made by [`advance_head_from`].
pub async fn insert_entry_row(conn: &mut Conn, tenant: &TenantId, e: &EntryRow) -> Result<()> {
    sqlx::query(INSERT_ENTRY_SQL)
        .bind(tenant.as_str())
        .bind(e.seq)
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.actor_msp)
        .bind(&e.actor_msp_user)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.before_state)
        .bind(&e.after_state)
        .bind(&e.request_id)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn insert_entry(conn: &mut Conn, tenant: &TenantId, e: &EntryRow) -> Result<()> {
    insert_entry_row(&mut *conn, tenant, e).await?;
    sqlx::query("UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .bind(&e.hash)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn entries(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<EntryRow>> {
    sqlx::query_as(
        "SELECT seq, at, actor, actor_msp, actor_msp_user, action, target, before_state, \
         after_state, request_id, prev_hash, hash FROM audit_log WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn insert_server_entry(
    conn: &mut Conn,
    id: &str,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO server_audit (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRow {
    pub seq: i64,
    pub hash: String,
    pub key_id: String,
    pub signature: String,
    pub at: i64,
}

pub async fn insert_checkpoint(
    conn: &mut Conn,
    tenant: &TenantId,
    c: &CheckpointRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (tenant_id, seq, hash, key_id, signature, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.as_str())
    .bind(c.seq)
    .bind(&c.hash)
    .bind(&c.key_id)
    .bind(&c.signature)
    .bind(c.at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn checkpoints(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<CheckpointRow>> {
    sqlx::query_as(
        "SELECT seq, hash, key_id, signature, at FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// (seq, at) of the newest checkpoint.
/// The head row: (seq, hash) of the newest entry.
pub async fn head(conn: &mut Conn, tenant: &TenantId) -> Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db)
}

#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    pub actor: Option<String>,
    pub msp_only: bool,
    pub since: Option<i64>,
    /// Entries with seq below this (pagination, newest first).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Entries newest first, filtered.
pub async fn search(conn: &mut Conn, tenant: &TenantId, f: &EntryFilter) -> Result<Vec<EntryRow>> {
    sqlx::query_as(
        "SELECT seq, at, actor, actor_msp, actor_msp_user, action, target, before_state, \
         after_state, request_id, prev_hash, hash FROM audit_log WHERE tenant_id = $1 \
         AND ($2 IS NULL OR actor = $2 OR actor_msp_user = $2) \
         AND ($3 = 0 OR actor_msp IS NOT NULL) \
         AND ($4 IS NULL OR at >= $4) \
         AND ($5 IS NULL OR seq < $5) \
         ORDER BY seq DESC LIMIT $6",
    )
    .bind(tenant.as_str())
    .bind(&f.actor)
    .bind(i64::from(f.msp_only))
    .bind(f.since)
    .bind(f.before_seq)
    .bind(f.limit)
    .fetch_all(conn)
    .await
    .map_err(db)
}
