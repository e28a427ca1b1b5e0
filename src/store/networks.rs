//! Networks, their tags, and port privileges.

use super::{conflict_or, db, flag, Conn};
use crate::error::Result;
use crate::ids::{NetworkId, TenantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

pub async fn insert(conn: &mut Conn, tenant: &TenantId, row: &NetworkRow) -> Result<()> {
    sqlx::query("INSERT INTO networks (tenant_id, id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant.as_str())
        .bind(&row.id)
        .bind(&row.name)
        .bind(row.created_at)
        .execute(conn)
        .await
        .map_err(|e| {
            conflict_or(
                e,
                "name_taken",
                format!("a network named '{}' already exists", row.name),
            )
        })?;
    Ok(())
}

pub async fn add_tag(
    conn: &mut Conn,
    tenant: &TenantId,
    network: &NetworkId,
    tag: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO network_tags (tenant_id, network_id, tag) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(network.as_str())
    .bind(tag)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn list(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<NetworkRow>> {
    sqlx::query_as(
        "SELECT id, name, created_at FROM networks WHERE tenant_id = $1 ORDER BY name, id",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn find_by_name(
    conn: &mut Conn,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<NetworkRow>> {
    sqlx::query_as("SELECT id, name, created_at FROM networks WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

pub async fn exists(conn: &mut Conn, tenant: &TenantId, network: &str) -> Result<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM networks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(network)
            .fetch_optional(conn)
            .await
            .map_err(db)?;
    Ok(row.is_some())
}

/// (network id, tag) for every tag in the tenant, ordered.
pub async fn all_tags(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT network_id, tag FROM network_tags WHERE tenant_id = $1 ORDER BY network_id, tag",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn add_port_privilege(
    conn: &mut Conn,
    tenant: &TenantId,
    network: &NetworkId,
    name: &str,
    port_tags: &[String],
    allow_capture: bool,
    now: i64,
) -> Result<()> {
    let tags = serde_json::to_string(port_tags).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO port_privileges (tenant_id, network_id, name, port_tags, allow_capture, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.as_str())
    .bind(network.as_str())
    .bind(name)
    .bind(tags)
    .bind(flag(allow_capture))
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "name_taken", format!("port privilege '{name}' already exists")))?;
    Ok(())
}

pub async fn port_privilege_exists(
    conn: &mut Conn,
    tenant: &TenantId,
    network: &str,
    name: &str,
) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM port_privileges WHERE tenant_id = $1 AND network_id = $2 AND name = $3",
    )
    .bind(tenant.as_str())
    .bind(network)
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(row.is_some())
}

pub async fn get(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<NetworkRow>> {
    sqlx::query_as("SELECT id, name, created_at FROM networks WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

pub async fn rename(conn: &mut Conn, tenant: &TenantId, id: &str, name: &str) -> Result<()> {
    sqlx::query("UPDATE networks SET name = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .bind(name)
        .execute(conn)
        .await
        .map_err(|e| {
            conflict_or(
                e,
                "name_taken",
                format!("a network named '{name}' already exists"),
            )
        })?;
    Ok(())
}

pub async fn tags_of(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT tag FROM network_tags WHERE tenant_id = $1 AND network_id = $2 ORDER BY tag",
    )
    .bind(tenant.as_str())
    .bind(id)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub async fn clear_tags(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM network_tags WHERE tenant_id = $1 AND network_id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM networks WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PortPrivilegeRow {
    pub name: String,
    pub port_tags: String,
    pub allow_capture: i64,
    pub created_at: i64,
}

pub async fn port_privileges_of(
    conn: &mut Conn,
    tenant: &TenantId,
    network: &str,
) -> Result<Vec<PortPrivilegeRow>> {
    sqlx::query_as(
        "SELECT name, port_tags, allow_capture, created_at FROM port_privileges \
         WHERE tenant_id = $1 AND network_id = $2 ORDER BY name",
    )
    .bind(tenant.as_str())
    .bind(network)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Remove a port privilege and every grant of it (the engine would ignore them anyway).
pub async fn delete_port_privilege(
    conn: &mut Conn,
    tenant: &TenantId,
    network: &str,
    name: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "DELETE FROM port_privileges WHERE tenant_id = $1 AND network_id = $2 AND name = $3",
    )
    .bind(tenant.as_str())
    .bind(network)
    .bind(name)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "DELETE FROM admin_grants WHERE tenant_id = $1 AND network_id = $2 AND access = $3",
    )
    .bind(tenant.as_str())
    .bind(network)
    .bind(format!("port:{name}"))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}
