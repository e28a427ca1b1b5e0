//! Signing keys per tenant and purpose; private parts arrive sealed by core.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub purpose: String,
    pub alg: String,
    pub public_key: String,
    pub private_key: String,
    pub state: String,
    pub created_at: i64,
}

pub async fn active(
    conn: &mut Conn,
    tenant: &TenantId,
    purpose: &str,
    alg: &str,
) -> Result<Option<KeyRow>> {
    sqlx::query_as(
        "SELECT id, purpose, alg, public_key, private_key, state, created_at FROM signing_keys \
         WHERE tenant_id = $1 AND purpose = $2 AND alg = $3 AND state = 'active'",
    )
    .bind(tenant.as_str())
    .bind(purpose)
    .bind(alg)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn by_id(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<KeyRow>> {
    sqlx::query_as(
        "SELECT id, purpose, alg, public_key, private_key, state, created_at FROM signing_keys \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// Insert an active key; a second active key for the same purpose and algorithm is a
/// Conflict (the caller re-reads the winner).
pub async fn insert_active(conn: &mut Conn, tenant: &TenantId, row: &KeyRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (tenant_id, id, purpose, alg, public_key, private_key, state, created_at, activated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.purpose)
    .bind(&row.alg)
    .bind(&row.public_key)
    .bind(&row.private_key)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "key_exists", "an active key exists"))?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FullKeyRow {
    pub id: String,
    pub alg: String,
    pub public_key: String,
    pub private_key: String,
    pub state: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

/// Every key of a purpose, oldest first.
pub async fn all_of(conn: &mut Conn, tenant: &TenantId, purpose: &str) -> Result<Vec<FullKeyRow>> {
    sqlx::query_as(
        "SELECT id, alg, public_key, private_key, state, created_at, activated_at, retired_at FROM signing_keys \
         WHERE tenant_id = $1 AND purpose = $2 ORDER BY created_at, id",
    )
    .bind(tenant.as_str())
    .bind(purpose)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Insert a key in state `next` (published, not yet signing).
pub async fn insert_next(conn: &mut Conn, tenant: &TenantId, row: &KeyRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (tenant_id, id, purpose, alg, public_key, private_key, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'next', $7)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.purpose)
    .bind(&row.alg)
    .bind(&row.public_key)
    .bind(&row.private_key)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Retire the active key of (purpose, alg) and activate `next_id`, in the caller's transaction.
pub async fn promote(
    conn: &mut Conn,
    tenant: &TenantId,
    purpose: &str,
    alg: &str,
    next_id: &str,
    now: i64,
) -> Result<bool> {
    sqlx::query(
        "UPDATE signing_keys SET state = 'retired', retired_at = $4 \
         WHERE tenant_id = $1 AND purpose = $2 AND alg = $3 AND state = 'active'",
    )
    .bind(tenant.as_str())
    .bind(purpose)
    .bind(alg)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let done = sqlx::query(
        "UPDATE signing_keys SET state = 'active', activated_at = $3 WHERE tenant_id = $1 AND id = $2 AND state = 'next'",
    )
    .bind(tenant.as_str())
    .bind(next_id)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}
