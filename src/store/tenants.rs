//! The tenants table, the global tenants version, and quarantined names.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::TenantId;
use sqlx::AnyPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub msp_id: Option<String>,
    pub display_name: String,
    pub settings: String,
    pub version: i64,
    pub created_at: i64,
}

macro_rules! select_tenants {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, kind, msp_id, display_name, settings, version, created_at FROM tenants ",
            $rest
        )
    };
}

pub async fn insert(conn: &mut Conn, row: &TenantRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenants (id, name, kind, msp_id, display_name, settings, version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.kind)
    .bind(&row.msp_id)
    .bind(&row.display_name)
    .bind(&row.settings)
    .bind(row.version)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "name_taken", format!("the name '{}' is taken", row.name)))?;
    Ok(())
}

/// Bump the global tenants version (additions and deletions). As the first statement of
/// a write transaction it also takes SQLite's write lock up front.
pub async fn bump_tenants_version(conn: &mut Conn) -> Result<()> {
    sqlx::query(
        "UPDATE server_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) \
         WHERE key = 'tenants_version'",
    )
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Bump one tenant's contents version; false when the tenant no longer exists. Writes
/// call this first inside their transaction, which re-checks the tenant.
pub async fn bump_version(conn: &mut Conn, tenant: &TenantId) -> Result<bool> {
    let done = sqlx::query("UPDATE tenants SET version = version + 1 WHERE id = $1")
        .bind(tenant.as_str())
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn tenants_version(pool: &AnyPool) -> Result<i64> {
    let row: (String,) =
        sqlx::query_as("SELECT value FROM server_meta WHERE key = 'tenants_version'")
            .fetch_one(pool)
            .await
            .map_err(db)?;
    Ok(row.0.parse().unwrap_or(0))
}

pub async fn all(pool: &AnyPool) -> Result<Vec<TenantRow>> {
    sqlx::query_as(select_tenants!("ORDER BY name"))
        .fetch_all(pool)
        .await
        .map_err(db)
}

pub async fn list_customers(pool: &AnyPool, msp: &TenantId) -> Result<Vec<TenantRow>> {
    sqlx::query_as(select_tenants!("WHERE msp_id = $1 ORDER BY name"))
        .bind(msp.as_str())
        .fetch_all(pool)
        .await
        .map_err(db)
}

pub async fn find_by_name(conn: &mut Conn, name: &str) -> Result<Option<TenantRow>> {
    sqlx::query_as(select_tenants!("WHERE name = $1"))
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

pub async fn count_customers(conn: &mut Conn, msp: &TenantId) -> Result<i64> {
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants WHERE msp_id = $1")
        .bind(msp.as_str())
        .fetch_one(conn)
        .await
        .map_err(db)?;
    Ok(row.0)
}

/// Delete the tenant row; every tenant-owned table cascades from it.
pub async fn delete(conn: &mut Conn, tenant: &TenantId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn quarantine(conn: &mut Conn, name: &str, until: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO quarantined_names (name, until_at) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET until_at = excluded.until_at",
    )
    .bind(name)
    .bind(until)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The end of a name's quarantine, if it is quarantined at `now`.
pub async fn quarantined_until(conn: &mut Conn, name: &str, now: i64) -> Result<Option<i64>> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT until_at FROM quarantined_names WHERE name = $1 AND until_at > $2")
            .bind(name)
            .bind(now)
            .fetch_optional(conn)
            .await
            .map_err(db)?;
    Ok(row.map(|r| r.0))
}

pub async fn purge_name(conn: &mut Conn, name: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM quarantined_names WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

/// (global tenants version, sum of per-tenant versions): both only grow, so any addition,
/// deletion or content change alters the pair.
pub async fn fingerprint(pool: &AnyPool) -> Result<(i64, i64)> {
    let global = tenants_version(pool).await?;
    let row: (i64,) =
        sqlx::query_as("SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM tenants")
            .fetch_one(pool)
            .await
            .map_err(db)?;
    Ok((global, row.0))
}

pub async fn settings(conn: &mut Conn, tenant: &TenantId) -> Result<Option<(String, String)>> {
    sqlx::query_as("SELECT display_name, settings FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db)
}

pub async fn set_settings(
    conn: &mut Conn,
    tenant: &TenantId,
    display_name: &str,
    settings: &str,
) -> Result<()> {
    sqlx::query("UPDATE tenants SET display_name = $2, settings = $3 WHERE id = $1")
        .bind(tenant.as_str())
        .bind(display_name)
        .bind(settings)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}
