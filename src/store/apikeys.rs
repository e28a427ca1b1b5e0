//! Per-admin API keys (only their keyed hash) and idempotency records.

use super::{db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn insert(
    conn: &mut Conn,
    tenant: &TenantId,
    row: &ApiKeyRow,
    key_hash: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, user_id, name, key_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.user_id)
    .bind(&row.name)
    .bind(key_hash)
    .bind(&row.created_by)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The key with this hash in this tenant, if any.
pub async fn by_hash(
    conn: &mut Conn,
    tenant: &TenantId,
    key_hash: &str,
) -> Result<Option<ApiKeyRow>> {
    sqlx::query_as(
        "SELECT id, user_id, name, created_by, created_at, last_used_at FROM api_keys \
         WHERE tenant_id = $1 AND key_hash = $2",
    )
    .bind(tenant.as_str())
    .bind(key_hash)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn list_for_user(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
) -> Result<Vec<ApiKeyRow>> {
    sqlx::query_as(
        "SELECT id, user_id, name, created_by, created_at, last_used_at FROM api_keys \
         WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id",
    )
    .bind(tenant.as_str())
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn get(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<ApiKeyRow>> {
    sqlx::query_as(
        "SELECT id, user_id, name, created_by, created_at, last_used_at FROM api_keys \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn delete(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

/// Every key of a user in this tenant goes (offboarding, removal).
pub async fn delete_for_user(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM api_keys WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected())
}

/// Record use at most once a minute per key, so reads do not all become writes.
pub async fn touch(conn: &mut Conn, tenant: &TenantId, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $3 - 60)",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdempotencyRow {
    pub route: String,
    pub status: i64,
    pub body: String,
    pub resource_id: Option<String>,
    pub had_secret: i64,
    pub created_at: i64,
}

pub async fn idempotent_get(
    conn: &mut Conn,
    tenant: &TenantId,
    caller: &str,
    key: &str,
    since: i64,
) -> Result<Option<IdempotencyRow>> {
    sqlx::query_as(
        "SELECT route, status, body, resource_id, had_secret, created_at FROM idempotency_keys \
         WHERE tenant_id = $1 AND caller = $2 AND key = $3 AND created_at > $4",
    )
    .bind(tenant.as_str())
    .bind(caller)
    .bind(key)
    .bind(since)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

#[allow(clippy::too_many_arguments)]
pub async fn idempotent_put(
    conn: &mut Conn,
    tenant: &TenantId,
    caller: &str,
    key: &str,
    row: &IdempotencyRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, caller, key, route, status, body, resource_id, had_secret, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant_id, caller, key) DO UPDATE SET route = excluded.route, status = excluded.status, \
         body = excluded.body, resource_id = excluded.resource_id, had_secret = excluded.had_secret, \
         created_at = excluded.created_at",
    )
    .bind(tenant.as_str())
    .bind(caller)
    .bind(key)
    .bind(&row.route)
    .bind(row.status)
    .bind(&row.body)
    .bind(&row.resource_id)
    .bind(row.had_secret)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Claim an idempotency key (a placeholder row with status 0); false when a live row
/// exists. Rows older than `expired_before` are replaced.
pub async fn idempotent_claim(
    conn: &mut Conn,
    tenant: &TenantId,
    caller: &str,
    key: &str,
    route: &str,
    now: i64,
    expired_before: i64,
) -> Result<bool> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND caller = $2 AND key = $3 AND created_at <= $4",
    )
    .bind(tenant.as_str())
    .bind(caller)
    .bind(key)
    .bind(expired_before)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, caller, key, route, status, body, created_at) \
         VALUES ($1, $2, $3, $4, 0, '', $5) ON CONFLICT (tenant_id, caller, key) DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(caller)
    .bind(key)
    .bind(route)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn idempotent_release(
    conn: &mut Conn,
    tenant: &TenantId,
    caller: &str,
    key: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND caller = $2 AND key = $3")
        .bind(tenant.as_str())
        .bind(caller)
        .bind(key)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}
