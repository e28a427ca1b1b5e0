//! Sessions and pending authorization requests.

use super::{db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub amr: String,
    pub act: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
}

/// SQL of [`insert`] (also run by the direct path, store/direct.rs).
pub const INSERT_SQL: &str = "INSERT INTO sessions (tenant_id, id, id_hash, user_id, amr, act, created_at, last_seen_at, idle_expires_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub async fn insert(
    conn: &mut Conn,
    tenant: &TenantId,
    row: &SessionRow,
    id_hash: &str,
) -> Result<()> {
    sqlx::query(INSERT_SQL)
        .bind(tenant.as_str())
        .bind(&row.id)
        .bind(id_hash)
        .bind(&row.user_id)
        .bind(&row.amr)
        .bind(&row.act)
        .bind(row.created_at)
        .bind(row.last_seen_at)
        .bind(row.idle_expires_at)
        .bind(row.expires_at)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// A live session by its cookie's hash.
pub async fn by_hash(
    conn: &mut Conn,
    tenant: &TenantId,
    id_hash: &str,
    now: i64,
) -> Result<Option<SessionRow>> {
    sqlx::query_as(
        "SELECT id, user_id, amr, act, created_at, last_seen_at, idle_expires_at, expires_at FROM sessions \
         WHERE tenant_id = $1 AND id_hash = $2 AND expires_at > $3 AND idle_expires_at > $3",
    )
    .bind(tenant.as_str())
    .bind(id_hash)
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn by_id(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    now: i64,
) -> Result<Option<SessionRow>> {
    sqlx::query_as(
        "SELECT id, user_id, amr, act, created_at, last_seen_at, idle_expires_at, expires_at FROM sessions \
         WHERE tenant_id = $1 AND id = $2 AND expires_at > $3 AND idle_expires_at > $3",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn touch(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    now: i64,
    idle_expires_at: i64,
) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $3, idle_expires_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .bind(now)
        .bind(idle_expires_at)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_for_user(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected())
}

pub async fn list(conn: &mut Conn, tenant: &TenantId, now: i64) -> Result<Vec<SessionRow>> {
    sqlx::query_as(
        "SELECT id, user_id, amr, act, created_at, last_seen_at, idle_expires_at, expires_at FROM sessions \
         WHERE tenant_id = $1 AND expires_at > $2 AND idle_expires_at > $2 ORDER BY created_at DESC, id",
    )
    .bind(tenant.as_str())
    .bind(now)
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn save_request(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    params: &str,
    expires_at: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO authorize_requests (tenant_id, id, params, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant.as_str())
        .bind(id)
        .bind(params)
        .bind(expires_at)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// A pending request, if unexpired (it stays until used or expired).
pub async fn load_request(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    now: i64,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT params FROM authorize_requests WHERE tenant_id = $1 AND id = $2 AND expires_at > $3",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| r.0))
}

pub async fn delete_request(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM authorize_requests WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}
