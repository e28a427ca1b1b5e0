//! Authorization codes, refresh-token families, issued and revoked access tokens.

use super::{db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub subject: String,
    pub session_id: Option<String>,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub resource: Option<String>,
    pub auth_time: i64,
    pub amr: String,
    pub act: Option<String>,
    pub expires_at: i64,
}

pub async fn insert_code(
    conn: &mut Conn,
    tenant: &TenantId,
    hash: &str,
    c: &CodeRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO auth_codes (tenant_id, code_hash, client_id, redirect_uri, user_id, session_id, scope, nonce, \
         code_challenge, resource, auth_time, amr, act, expires_at, subject) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .bind(&c.client_id)
    .bind(&c.redirect_uri)
    .bind(&c.user_id)
    .bind(&c.session_id)
    .bind(&c.scope)
    .bind(&c.nonce)
    .bind(&c.code_challenge)
    .bind(&c.resource)
    .bind(c.auth_time)
    .bind(&c.amr)
    .bind(&c.act)
    .bind(c.expires_at)
    .bind(&c.subject)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Consume a code exactly once: the UPDATE succeeds for one caller only.
pub async fn consume_code(
    conn: &mut Conn,
    tenant: &TenantId,
    hash: &str,
) -> Result<Option<CodeRow>> {
    sqlx::query_as(
        "UPDATE auth_codes SET used = 1 WHERE tenant_id = $1 AND code_hash = $2 AND used = 0 \
         RETURNING client_id, redirect_uri, user_id, subject, session_id, scope, nonce, code_challenge, resource, auth_time, amr, act, expires_at",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub subject: String,
    pub session_id: Option<String>,
    pub scope: String,
    pub resource: Option<String>,
    pub amr: String,
    pub act: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub family_expires_at: i64,
}

pub async fn insert_refresh(
    conn: &mut Conn,
    tenant: &TenantId,
    hash: &str,
    r: &RefreshRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, client_id, user_id, session_id, scope, resource, \
         amr, act, auth_time, created_at, idle_expires_at, family_expires_at, subject) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .bind(&r.family_id)
    .bind(&r.client_id)
    .bind(&r.user_id)
    .bind(&r.session_id)
    .bind(&r.scope)
    .bind(&r.resource)
    .bind(&r.amr)
    .bind(&r.act)
    .bind(r.auth_time)
    .bind(r.created_at)
    .bind(r.idle_expires_at)
    .bind(r.family_expires_at)
    .bind(&r.subject)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Rotate atomically: mark used only if it was unused and not revoked.
pub async fn use_refresh(
    conn: &mut Conn,
    tenant: &TenantId,
    hash: &str,
) -> Result<Option<RefreshRow>> {
    sqlx::query_as(
        "UPDATE refresh_tokens SET used = 1 WHERE tenant_id = $1 AND token_hash = $2 AND used = 0 AND revoked = 0 \
         RETURNING family_id, client_id, user_id, subject, session_id, scope, resource, amr, act, auth_time, created_at, \
         idle_expires_at, family_expires_at",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// (family id, client id, used, revoked) of a refresh token, whatever its state.
pub async fn refresh_state(
    conn: &mut Conn,
    tenant: &TenantId,
    hash: &str,
) -> Result<Option<(String, String, i64, i64, i64)>> {
    sqlx::query_as(
        "SELECT family_id, client_id, used, revoked, family_expires_at FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn refresh_by_hash(
    conn: &mut Conn,
    tenant: &TenantId,
    hash: &str,
) -> Result<Option<(RefreshRow, i64, i64)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        r: RefreshRow,
        used: i64,
        revoked: i64,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT family_id, client_id, user_id, subject, session_id, scope, resource, amr, act, auth_time, created_at, \
         idle_expires_at, family_expires_at, used, revoked FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| (r.r, r.used, r.revoked)))
}

pub async fn revoke_family(conn: &mut Conn, tenant: &TenantId, family: &str) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE tenant_id = $1 AND family_id = $2")
        .bind(tenant.as_str())
        .bind(family)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn revoke_families_of_user(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// An access token issued to a user, remembered so revocation cascades find its jti.
pub struct Issued<'a> {
    pub jti: &'a str,
    pub user: Option<&'a str>,
    pub client: &'a str,
    pub session: Option<&'a str>,
    pub family: Option<&'a str>,
    pub expires_at: i64,
}

pub async fn record_issued(conn: &mut Conn, tenant: &TenantId, t: &Issued<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO issued_tokens (tenant_id, jti, user_id, client_id, session_id, family_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(t.jti)
    .bind(t.user)
    .bind(t.client)
    .bind(t.session)
    .bind(t.family)
    .bind(t.expires_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Put every unexpired access token of a refresh family (or of a user) on the revocation list.
pub async fn revoke_issued(
    conn: &mut Conn,
    tenant: &TenantId,
    family: Option<&str>,
    user: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO revoked_tokens (tenant_id, jti, expires_at) \
         SELECT tenant_id, jti, expires_at FROM issued_tokens WHERE tenant_id = $1 AND expires_at > $4 \
         AND (($2 IS NOT NULL AND family_id = $2) OR ($3 IS NOT NULL AND user_id = $3)) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(family)
    .bind(user)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Put one access token on the revocation list; true when it was not there yet.
pub async fn revoke_jti(
    conn: &mut Conn,
    tenant: &TenantId,
    jti: &str,
    expires_at: i64,
) -> Result<bool> {
    let done = sqlx::query("INSERT INTO revoked_tokens (tenant_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(tenant.as_str())
        .bind(jti)
        .bind(expires_at)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn is_revoked(conn: &mut Conn, tenant: &TenantId, jti: &str) -> Result<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT jti FROM revoked_tokens WHERE tenant_id = $1 AND jti = $2")
            .bind(tenant.as_str())
            .bind(jti)
            .fetch_optional(conn)
            .await
            .map_err(db)?;
    Ok(row.is_some())
}
