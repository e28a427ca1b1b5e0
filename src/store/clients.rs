//! OAuth/OIDC clients (`clients`) and the single-use record of private_key_jwt assertion
//! ids (`client_assertion_jtis`). Secrets are stored only as their keyed hash; list
//! columns hold JSON arrays as TEXT. Must not import core, http or axum.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    /// Keyed hash of the secret (client_secret_basic/post); None otherwise.
    pub secret_hash: Option<String>,
    pub auth_method: String,
    /// JSON arrays.
    pub redirect_uris: String,
    pub post_logout_uris: String,
    pub grant_types: String,
    pub scopes: String,
    /// JWKS (JSON) of private_key_jwt clients.
    pub jwks: Option<String>,
    pub id_token_alg: String,
    pub require_pkce: i64,
    pub admin_api: i64,
    pub initiate_login_uri: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! select_clients {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, secret_hash, auth_method, redirect_uris, post_logout_uris, \
             grant_types, scopes, jwks, id_token_alg, require_pkce, admin_api, \
             initiate_login_uri, created_at, updated_at FROM clients ",
            $rest
        )
    };
}

pub async fn insert(conn: &mut Conn, tenant: &TenantId, row: &ClientRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO clients (tenant_id, id, name, secret_hash, auth_method, redirect_uris, \
         post_logout_uris, grant_types, scopes, jwks, id_token_alg, require_pkce, admin_api, \
         initiate_login_uri, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.secret_hash)
    .bind(&row.auth_method)
    .bind(&row.redirect_uris)
    .bind(&row.post_logout_uris)
    .bind(&row.grant_types)
    .bind(&row.scopes)
    .bind(&row.jwks)
    .bind(&row.id_token_alg)
    .bind(row.require_pkce)
    .bind(row.admin_api)
    .bind(&row.initiate_login_uri)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "client_exists", "a client with this id already exists"))?;
    Ok(())
}

pub async fn get(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<ClientRow>> {
    sqlx::query_as(select_clients!("WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// Every client of the tenant, oldest first.
pub async fn list(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<ClientRow>> {
    sqlx::query_as(select_clients!(
        "WHERE tenant_id = $1 ORDER BY created_at, id"
    ))
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Remove a client (its codes and refresh tokens go by cascade) and its assertion ids.
pub async fn delete(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    for table in ["client_assertion_jtis", "auth_codes", "refresh_tokens"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND client_id = $2"
        )))
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    let done = sqlx::query("DELETE FROM clients WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

/// Record an assertion's `jti` until `expires_at`: true on its first use, false when it
/// was seen before and has not expired. Expired ids of the client are dropped first; the
/// primary key decides between concurrent uses (RFC 7523 §3 item 7).
pub async fn use_jti(
    conn: &mut Conn,
    tenant: &TenantId,
    client: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool> {
    sqlx::query(
        "DELETE FROM client_assertion_jtis WHERE tenant_id = $1 AND client_id = $2 \
         AND expires_at <= $3",
    )
    .bind(tenant.as_str())
    .bind(client)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let done = sqlx::query(
        "INSERT INTO client_assertion_jtis (tenant_id, client_id, jti, expires_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, client_id, jti) DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(client)
    .bind(jti)
    .bind(expires_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}
