//! Passkeys and WebAuthn ceremony state (migrations 0004) and failed assertions per
//! account (0006). The credential itself is opaque JSON TEXT here; the webauthn adapter
//! owns its shape.

use super::{conflict_or, db, flag, Conn};
use crate::error::Result;
use crate::ids::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub passkey: String,
    pub name: String,
    pub sign_count: i64,
    pub backup_eligible: i64,
    pub backup_state: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, credential_id, passkey, name, sign_count, backup_eligible, \
                       backup_state, created_at, last_used_at";

pub async fn insert(conn: &mut Conn, tenant: &TenantId, row: &PasskeyRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO passkeys (tenant_id, id, user_id, credential_id, passkey, name, sign_count, \
         backup_eligible, backup_state, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.user_id)
    .bind(&row.credential_id)
    .bind(&row.passkey)
    .bind(&row.name)
    .bind(row.sign_count)
    .bind(row.backup_eligible)
    .bind(row.backup_state)
    .bind(row.created_at)
    .bind(row.last_used_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "passkey_exists", "this passkey is already registered"))?;
    Ok(())
}

pub async fn by_credential(
    conn: &mut Conn,
    tenant: &TenantId,
    credential_id: &str,
) -> Result<Option<PasskeyRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM passkeys WHERE tenant_id = $1 AND credential_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(credential_id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn of_user(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<Vec<PasskeyRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM passkeys WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id"
    )))
    .bind(tenant.as_str())
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// What a login needs of a credential and its user, in one round trip.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CandidateRow {
    pub id: String,
    pub user_id: String,
    pub passkey: String,
    pub status: String,
    pub locked_until: Option<i64>,
    /// Failures are recorded (counter, lock or window rows) that a success must clear.
    pub has_failures: i64,
    /// The tenant's settings document (session lifetimes for the new session).
    pub settings: String,
}

/// SQL of [`login_candidate`] (also run by the direct path, store/direct.rs).
pub const LOGIN_CANDIDATE_SQL: &str =
    "SELECT p.id, p.user_id, p.passkey, u.status, u.locked_until, \
         CASE WHEN u.failed_logins > 0 OR u.locked_until IS NOT NULL OR EXISTS \
         (SELECT 1 FROM account_failures f WHERE f.tenant_id = $1 AND f.user_id = p.user_id) \
         THEN 1 ELSE 0 END AS has_failures, t.settings \
         FROM passkeys p JOIN users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id \
         JOIN tenants t ON t.id = p.tenant_id \
         WHERE p.tenant_id = $1 AND p.credential_id = $2";

pub async fn login_candidate(
    conn: &mut Conn,
    tenant: &TenantId,
    credential_id: &str,
) -> Result<Option<CandidateRow>> {
    sqlx::query_as(LOGIN_CANDIDATE_SQL)
        .bind(tenant.as_str())
        .bind(credential_id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// SQL of [`record_use`] (also run by the direct path).
pub const RECORD_USE_SQL: &str =
    "UPDATE passkeys SET passkey = $3, sign_count = $4, backup_eligible = $5, backup_state = $6, \
         last_used_at = $7 WHERE tenant_id = $1 AND id = $2 AND sign_count <= $4";

/// After a verified assertion: the new credential JSON, counter and backup flags. The
/// `sign_count <= $counter` guard keeps two concurrent logins from moving it backwards.
#[allow(clippy::too_many_arguments)]
pub async fn record_use(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    passkey: &str,
    counter: i64,
    backup_eligible: bool,
    backup_state: bool,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(RECORD_USE_SQL)
        .bind(tenant.as_str())
        .bind(id)
        .bind(passkey)
        .bind(counter)
        .bind(flag(backup_eligible))
        .bind(flag(backup_state))
        .bind(now)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(conn: &mut Conn, tenant: &TenantId, user: &str, id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM passkeys WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
        .bind(tenant.as_str())
        .bind(user)
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CeremonyRow {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub link_hash: Option<String>,
    pub state: String,
    pub expires_at: i64,
    pub created_at: i64,
}

/// SQL of [`sweep_ceremonies`] (also run by the direct path).
pub const SWEEP_CEREMONIES_SQL: &str =
    "DELETE FROM webauthn_ceremonies WHERE tenant_id = $1 AND expires_at <= $2";

/// Remove the tenant's expired ceremonies (they are refused anyway; this keeps the table
/// small).
pub async fn sweep_ceremonies(conn: &mut Conn, tenant: &TenantId, now: i64) -> Result<()> {
    sqlx::query(SWEEP_CEREMONIES_SQL)
        .bind(tenant.as_str())
        .bind(now)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// SQL of [`insert_ceremony`] (also run by the direct path).
pub const INSERT_CEREMONY_SQL: &str = "INSERT INTO webauthn_ceremonies (tenant_id, id, kind, user_id, link_hash, state, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub async fn insert_ceremony(conn: &mut Conn, tenant: &TenantId, row: &CeremonyRow) -> Result<()> {
    sqlx::query(INSERT_CEREMONY_SQL)
        .bind(tenant.as_str())
        .bind(&row.id)
        .bind(&row.kind)
        .bind(&row.user_id)
        .bind(&row.link_hash)
        .bind(&row.state)
        .bind(row.expires_at)
        .bind(row.created_at)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// A login ceremony's state and expiry without taking it (the direct path reads it, then
/// deletes it in the sign-in's own transaction with [`DELETE_CEREMONY_SQL`]).
pub const PEEK_CEREMONY_SQL: &str = "SELECT state, expires_at FROM webauthn_ceremonies \
     WHERE tenant_id = $1 AND id = $2 AND kind = $3 AND link_hash IS NULL";

/// Delete one ceremony; whoever deletes the row owns it.
pub const DELETE_CEREMONY_SQL: &str =
    "DELETE FROM webauthn_ceremonies WHERE tenant_id = $1 AND id = $2 AND kind = $3";

/// SQL of [`take_ceremony`] (also run by the direct path).
pub const TAKE_CEREMONY_SQL: &str =
    "DELETE FROM webauthn_ceremonies WHERE tenant_id = $1 AND id = $2 AND kind = $3 \
         RETURNING id, kind, user_id, link_hash, state, expires_at, created_at";

/// Remove and return a ceremony (single use: whoever deletes the row owns it).
pub async fn take_ceremony(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    kind: &str,
) -> Result<Option<CeremonyRow>> {
    sqlx::query_as(TAKE_CEREMONY_SQL)
        .bind(tenant.as_str())
        .bind(id)
        .bind(kind)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// Consume an enrolment link of `user` (only if still open and unexpired).
pub async fn consume_link(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
    link_hash: &str,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE enrolment_links SET consumed_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
         AND token_hash = $3 AND consumed_at IS NULL AND expires_at > $4",
    )
    .bind(tenant.as_str())
    .bind(user)
    .bind(link_hash)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(r.rows_affected() == 1)
}

pub async fn mark_enrolled(conn: &mut Conn, tenant: &TenantId, user: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE admin_memberships SET enrolment = 'enrolled', updated_at = $3 \
         WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.as_str())
    .bind(user)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// A failed assertion of `user` at `now`: failures older than `window` seconds are
/// dropped, this one is recorded, and the account locks until `lock_until` when the
/// failures inside the window reach `threshold` (the count then starts over, so a lock
/// that expired is not renewed by the next single failure). Returns the count, which
/// `users.failed_logins` mirrors; 0 when the user is gone.
#[allow(clippy::too_many_arguments)]
pub async fn count_failure(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
    reason: &str,
    now: i64,
    window: i64,
    threshold: i64,
    lock_until: i64,
) -> Result<i64> {
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(user)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    if exists.is_none() {
        return Ok(0);
    }
    sqlx::query(
        "DELETE FROM account_failures WHERE tenant_id = $1 AND user_id = $2 AND failed_at <= $3",
    )
    .bind(tenant.as_str())
    .bind(user)
    .bind(now - window)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO account_failures (tenant_id, id, user_id, reason, failed_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.as_str())
    .bind(crate::ids::credential("acf_"))
    .bind(user)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM account_failures WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.as_str())
    .bind(user)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    if count >= threshold {
        clear_failures(conn, tenant, user).await?;
        sqlx::query(
            "UPDATE users SET failed_logins = $3, locked_until = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(user)
        .bind(count)
        .bind(lock_until)
        .execute(conn)
        .await
        .map_err(db)?;
    } else {
        sqlx::query("UPDATE users SET failed_logins = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(user)
            .bind(count)
            .execute(conn)
            .await
            .map_err(db)?;
    }
    Ok(count)
}

/// Forget an account's counted failures (a success, an unlock, a recovery, a lock).
pub async fn clear_failures(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<()> {
    sqlx::query("DELETE FROM account_failures WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn reset_failures(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<()> {
    clear_failures(conn, tenant, user).await?;
    sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Recovery: every passkey of a user and any ceremony bound to them. Returns how many
/// passkeys went.
pub async fn delete_all_of_user(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<u64> {
    let r = sqlx::query("DELETE FROM passkeys WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(r.rows_affected())
}

/// Recovery: the admin must enrol again.
pub async fn mark_pending(conn: &mut Conn, tenant: &TenantId, user: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE admin_memberships SET enrolment = 'pending', updated_at = $3 \
         WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.as_str())
    .bind(user)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Count one failure of a client in a fixed window starting at its first failure.
pub async fn count_client_failure(
    conn: &mut Conn,
    tenant: &TenantId,
    client: &str,
    now: i64,
    window: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO login_failures (tenant_id, client_key, window_start, failures) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, client_key) DO UPDATE SET \
         failures = CASE WHEN login_failures.window_start <= $4 THEN 1 ELSE login_failures.failures + 1 END, \
         window_start = CASE WHEN login_failures.window_start <= $4 THEN $3 ELSE login_failures.window_start END",
    )
    .bind(tenant.as_str())
    .bind(client)
    .bind(now)
    .bind(now - window)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// SQL of [`client_failures`] (also run by the direct path).
pub const CLIENT_FAILURES_SQL: &str = "SELECT failures FROM login_failures WHERE tenant_id = $1 AND client_key = $2 AND window_start > $3";

/// Failures of a client in its current window.
pub async fn client_failures(
    conn: &mut Conn,
    tenant: &TenantId,
    client: &str,
    now: i64,
    window: i64,
) -> Result<i64> {
    let row: Option<(i64,)> = sqlx::query_as(CLIENT_FAILURES_SQL)
        .bind(tenant.as_str())
        .bind(client)
        .bind(now - window)
        .fetch_optional(conn)
        .await
        .map_err(db)?;
    Ok(row.map(|r| r.0).unwrap_or(0))
}
