//! SAML service providers per tenant and the AuthnRequest ids already seen (replay
//! refusal). Rows arrive already parsed by core; this module only stores them.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SpRow {
    pub id: String,
    pub entity_id: String,
    pub acs: String,
    pub signing_certs: String,
    pub encryption_certs: String,
    pub want_requests_signed: i64,
    pub metadata: String,
    pub created_at: i64,
    /// JSON: [{"binding", "location", "response_location"}].
    pub slo: String,
    pub metadata_url: Option<String>,
}

const COLUMNS: &str = "id, entity_id, acs, signing_certs, encryption_certs, want_requests_signed, metadata, created_at, slo, metadata_url";

pub async fn insert(conn: &mut Conn, tenant: &TenantId, row: &SpRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO saml_sps (tenant_id, id, entity_id, acs, signing_certs, encryption_certs, \
         want_requests_signed, metadata, created_at, slo, metadata_url) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.entity_id)
    .bind(&row.acs)
    .bind(&row.signing_certs)
    .bind(&row.encryption_certs)
    .bind(row.want_requests_signed)
    .bind(&row.metadata)
    .bind(row.created_at)
    .bind(&row.slo)
    .bind(&row.metadata_url)
    .execute(conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            "entity_id_taken",
            "a service provider with this entityID is already registered",
        )
    })?;
    Ok(())
}

pub async fn list(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<SpRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM saml_sps WHERE tenant_id = $1 ORDER BY created_at, id"
    )))
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn get(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<SpRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM saml_sps WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn by_entity(conn: &mut Conn, tenant: &TenantId, entity: &str) -> Result<Option<SpRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM saml_sps WHERE tenant_id = $1 AND entity_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(entity)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn delete(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM saml_sps WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

/// Record a request id as seen; false when it was seen before (a replay). Expired ids of
/// the tenant are dropped first: requests older than their expiry are refused by age.
pub async fn remember_request(
    conn: &mut Conn,
    tenant: &TenantId,
    sp: &str,
    request_id: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool> {
    sqlx::query("DELETE FROM saml_request_ids WHERE tenant_id = $1 AND expires_at <= $2")
        .bind(tenant.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let done = sqlx::query(
        "INSERT INTO saml_request_ids (tenant_id, sp_id, request_id, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, sp_id, request_id) DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(sp)
    .bind(request_id)
    .bind(expires_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}
