//! Inbound federation rows: connections to upstream IdPs, their e-mail domains, linked
//! identities (connection, upstream subject) → user, sign-in states sent upstream, and
//! consumed SAML assertion ids. Core seals the client secret before it arrives here.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: String,
    pub metadata: Option<String>,
    /// Where the SAML metadata was fetched from (once, at registration), for the record.
    pub metadata_url: Option<String>,
    pub claim: String,
    pub allow_linking: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, display_name, kind, issuer, client_id, client_secret, scopes, \
                       metadata, metadata_url, claim, allow_linking, created_at";

pub async fn insert(conn: &mut Conn, tenant: &TenantId, r: &ConnectionRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO federation_connections (tenant_id, id, name, display_name, kind, issuer, \
         client_id, client_secret, scopes, metadata, metadata_url, claim, allow_linking, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(tenant.as_str())
    .bind(&r.id)
    .bind(&r.name)
    .bind(&r.display_name)
    .bind(&r.kind)
    .bind(&r.issuer)
    .bind(&r.client_id)
    .bind(&r.client_secret)
    .bind(&r.scopes)
    .bind(&r.metadata)
    .bind(&r.metadata_url)
    .bind(&r.claim)
    .bind(r.allow_linking)
    .bind(r.created_at)
    .execute(conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            "name_taken",
            format!("a connection named {} already exists", r.name),
        )
    })?;
    Ok(())
}

pub async fn list(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<ConnectionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM federation_connections WHERE tenant_id = $1 ORDER BY name"
    )))
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// By id or by name.
pub async fn get(conn: &mut Conn, tenant: &TenantId, key: &str) -> Result<Option<ConnectionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM federation_connections WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
    )))
    .bind(tenant.as_str())
    .bind(key)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn delete(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM federation_connections WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(r.rows_affected() > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainRow {
    pub domain: String,
    pub connection_id: String,
    pub verified: i64,
    /// The random value its owner publishes at `_tenantry.{domain}` (not a secret).
    pub verification_token: String,
    /// 'dns' or 'cli'.
    pub verified_by: Option<String>,
    pub verified_at: Option<i64>,
}

const DOMAIN_COLUMNS: &str =
    "domain, connection_id, verified, verification_token, verified_by, verified_at";

pub async fn insert_domain(
    conn: &mut Conn,
    tenant: &TenantId,
    connection: &str,
    domain: &str,
    token: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO federation_domains (tenant_id, domain, connection_id, verified, \
         verification_token, created_at) VALUES ($1, $2, $3, 0, $4, $5)",
    )
    .bind(tenant.as_str())
    .bind(domain)
    .bind(connection)
    .bind(token)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            "domain_taken",
            format!("{domain} already belongs to a connection of this organization"),
        )
    })?;
    Ok(())
}

pub async fn domains(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<DomainRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DOMAIN_COLUMNS} FROM federation_domains WHERE tenant_id = $1 ORDER BY domain"
    )))
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn domain(conn: &mut Conn, tenant: &TenantId, domain: &str) -> Result<Option<DomainRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DOMAIN_COLUMNS} FROM federation_domains WHERE tenant_id = $1 AND domain = $2"
    )))
    .bind(tenant.as_str())
    .bind(domain)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// Mark a domain verified `by` ('dns' or 'cli') at `now`, only while it is still the
/// unverified row carrying `token` (the one checked): false when it changed meanwhile.
pub async fn set_verified(
    conn: &mut Conn,
    tenant: &TenantId,
    domain: &str,
    token: &str,
    by: &str,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE federation_domains SET verified = 1, verified_by = $4, verified_at = $5 \
         WHERE tenant_id = $1 AND domain = $2 AND verification_token = $3 AND verified = 0",
    )
    .bind(tenant.as_str())
    .bind(domain)
    .bind(token)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(r.rows_affected() > 0)
}

/// The user linked to (connection, upstream subject).
pub async fn linked_user(
    conn: &mut Conn,
    tenant: &TenantId,
    connection: &str,
    subject: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT user_id FROM federated_identities WHERE tenant_id = $1 AND connection_id = $2 \
         AND subject = $3",
    )
    .bind(tenant.as_str())
    .bind(connection)
    .bind(subject)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(row.map(|(u,)| u))
}

pub async fn link(
    conn: &mut Conn,
    tenant: &TenantId,
    connection: &str,
    subject: &str,
    user: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO federated_identities (tenant_id, connection_id, subject, user_id, created_at, \
         last_login_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(tenant.as_str())
    .bind(connection)
    .bind(subject)
    .bind(user)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "already_linked", "this upstream account is already linked"))?;
    Ok(())
}

pub async fn touch_link(
    conn: &mut Conn,
    tenant: &TenantId,
    connection: &str,
    subject: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE federated_identities SET last_login_at = $4 WHERE tenant_id = $1 \
         AND connection_id = $2 AND subject = $3",
    )
    .bind(tenant.as_str())
    .bind(connection)
    .bind(subject)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// A new user created just in time (source 'federation').
pub async fn insert_user(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    email: &str,
    email_norm: &str,
    display_name: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (tenant_id, id, email, email_norm, display_name, status, source, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'active', 'federation', $6, $6)",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(email)
    .bind(email_norm)
    .bind(display_name)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            "email_in_use",
            format!("{email} is already an account of this organization"),
        )
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StateRow {
    pub connection_id: String,
    pub browser: Option<String>,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub pending: Option<String>,
    pub expires_at: i64,
}

pub async fn insert_state(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    r: &StateRow,
    now: i64,
) -> Result<()> {
    // Expired states of the tenant go first, so the table stays small.
    sqlx::query("DELETE FROM federation_states WHERE tenant_id = $1 AND expires_at <= $2")
        .bind(tenant.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query(
        "INSERT INTO federation_states (tenant_id, id, connection_id, browser, nonce, \
         pkce_verifier, pending, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(&r.connection_id)
    .bind(&r.browser)
    .bind(&r.nonce)
    .bind(&r.pkce_verifier)
    .bind(&r.pending)
    .bind(r.expires_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Delete and return a live state: single use (the DELETE decides who wins a race).
pub async fn take_state(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    now: i64,
) -> Result<Option<StateRow>> {
    let row: Option<StateRow> = sqlx::query_as(
        "DELETE FROM federation_states WHERE tenant_id = $1 AND id = $2 RETURNING connection_id, \
         browser, nonce, pkce_verifier, pending, expires_at",
    )
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(row.filter(|r| r.expires_at > now))
}

/// Record a consumed assertion id; false when it was already recorded (a replay).
pub async fn consume_assertion(
    conn: &mut Conn,
    tenant: &TenantId,
    connection: &str,
    assertion_id: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool> {
    sqlx::query("DELETE FROM federation_assertions WHERE tenant_id = $1 AND expires_at <= $2")
        .bind(tenant.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let r = sqlx::query(
        "INSERT INTO federation_assertions (tenant_id, connection_id, assertion_id, expires_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(connection)
    .bind(assertion_id)
    .bind(expires_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(r.rows_affected() > 0)
}
