//! Server-side sessions per tenant host (product.md "Sign-in", security.md lifetimes).
//! The cookie carries a random credential (`tnt_ses_...`); the database keeps only its
//! keyed hash and a public id (`ses_...`) for listing and revoking. Idle and absolute
//! timeouts come from the tenant's login policy. The passkey sign-in is what creates
//! sessions in production; tests create them through this service directly.

use super::{Core, Error, Result};
use crate::ids::credential;
use crate::store::{self, sessions as rows};
use crate::tenancy::Tenant;
use serde::Serialize;
use serde_json::Value;

pub const SESSION_PREFIX: &str = "tnt_ses_";
const PURPOSE: &str = "session";

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub amr: Vec<String>,
    /// `{"iss": MSP issuer, "sub": MSP user}` for an MSP user acting in a customer.
    pub act: Option<Value>,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// Whom an MSP user's session in a customer acts as (from its `act`): what the pages show
/// in their banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingMsp {
    /// The MSP user's e-mail (their name or id when the e-mail is unknown).
    pub user: String,
    /// The MSP's display name (its issuer when the MSP is unknown).
    pub msp: String,
}

fn from_row(r: rows::SessionRow) -> Session {
    Session {
        id: r.id,
        user_id: r.user_id,
        amr: serde_json::from_str(&r.amr).unwrap_or_default(),
        act: r.act.as_deref().and_then(|a| serde_json::from_str(a).ok()),
        auth_time: r.created_at,
        expires_at: r.expires_at,
    }
}

impl Core {
    /// The cookie's name on this server: `__Host-` prefixed under https.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.public_url.https {
            "__Host-tenantry_session"
        } else {
            "tenantry_session"
        }
    }

    /// The `Set-Cookie` value for a session credential (host-only: never a Domain).
    pub fn session_cookie(&self, value: &str, max_age: i64) -> String {
        let secure = if self.public_url.https {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.session_cookie_name()
        )
    }

    /// A new session (a new id: no fixation). Returns it and the cookie credential.
    pub async fn create_session(
        &self,
        tenant: &Tenant,
        user_id: &str,
        amr: &[&str],
        act: Option<Value>,
    ) -> Result<(Session, String)> {
        self.create_session_until(tenant, user_id, amr, act, None)
            .await
    }

    /// A new session that never outlives `cap` (an MSP user's session in a customer lives
    /// no longer than the MSP session it came from).
    pub async fn create_session_until(
        &self,
        tenant: &Tenant,
        user_id: &str,
        amr: &[&str],
        act: Option<Value>,
        cap: Option<i64>,
    ) -> Result<(Session, String)> {
        let lifetimes = self.session_lifetimes(tenant).await?;
        let mut conn = self.store.write().await?;
        self.insert_session(&mut conn, tenant, user_id, amr, act, cap, lifetimes)
            .await
    }

    /// The tenant's session lifetimes (idle, absolute) in seconds, read before a write
    /// so that the write holds the database's writer as briefly as possible.
    pub(crate) async fn session_lifetimes(&self, tenant: &Tenant) -> Result<(i64, i64)> {
        let mut conn = self.store.conn().await?;
        let (_, settings) = super::settings::load(&mut conn, tenant).await?;
        Ok(lifetimes(&settings))
    }

    /// [`Self::create_session_until`] on a given connection or transaction (a sign-in
    /// that commits its session with the rest of its writes), with the lifetimes of
    /// [`Self::session_lifetimes`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_session(
        &self,
        conn: &mut crate::store::Conn,
        tenant: &Tenant,
        user_id: &str,
        amr: &[&str],
        act: Option<Value>,
        cap: Option<i64>,
        lifetimes: (i64, i64),
    ) -> Result<(Session, String)> {
        let (row, secret, hash) = self.new_session(user_id, amr, act, cap, lifetimes);
        rows::insert(conn, &tenant.id, &row, &hash).await?;
        Ok((from_row(row), secret))
    }

    /// [`Self::insert_session`] inside a direct SQLite transaction (store/direct.rs).
    pub(crate) fn insert_session_direct(
        &self,
        tx: &mut crate::store::direct::DirectTx<'_>,
        tenant: &Tenant,
        user_id: &str,
        amr: &[&str],
        lifetimes: (i64, i64),
    ) -> Result<(Session, String)> {
        let (row, secret, hash) = self.new_session(user_id, amr, None, None, lifetimes);
        crate::store::hot::insert_session(tx, &tenant.id, &row, &hash)?;
        Ok((from_row(row), secret))
    }

    /// A new session's row, its cookie credential and that credential's stored hash.
    fn new_session(
        &self,
        user_id: &str,
        amr: &[&str],
        act: Option<Value>,
        cap: Option<i64>,
        (idle, absolute): (i64, i64),
    ) -> (rows::SessionRow, String, String) {
        let now = self.clock.now();
        let secret = credential(SESSION_PREFIX);
        let row = rows::SessionRow {
            id: crate::ids::SessionId::generate().to_string(),
            user_id: user_id.to_string(),
            amr: serde_json::to_string(amr).unwrap_or_else(|_| "[]".into()),
            act: act.as_ref().map(Value::to_string),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: (now + idle).min(cap.unwrap_or(i64::MAX)),
            expires_at: (now + absolute).min(cap.unwrap_or(i64::MAX)),
        };
        let hash = self.keys.hash_credential(PURPOSE, &secret);
        (row, secret, hash)
    }

    /// The live session a cookie credential names; slides the idle timeout (at most once a
    /// minute, so reads stay reads).
    pub async fn session_from_cookie(
        &self,
        tenant: &Tenant,
        secret: &str,
    ) -> Result<Option<Session>> {
        if !secret.starts_with(SESSION_PREFIX) || secret.len() > 100 {
            return Ok(None);
        }
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        let Some(row) = rows::by_hash(
            &mut conn,
            &tenant.id,
            &self.keys.hash_credential(PURPOSE, secret),
            now,
        )
        .await?
        else {
            return Ok(None);
        };
        if now - row.last_seen_at >= 60 {
            let (_, settings) = super::settings::load(&mut conn, tenant).await?;
            let idle = i64::from(settings.login.session_idle_minutes) * 60;
            rows::touch(
                &mut conn,
                &tenant.id,
                &row.id,
                now,
                (now + idle).min(row.expires_at),
            )
            .await?;
        }
        Ok(Some(from_row(row)))
    }

    /// The MSP user and MSP a session acts for (`act` = `{"iss": MSP issuer, "sub": MSP
    /// user}`, set by the switch into a customer); None for an ordinary session. A value
    /// that no longer resolves is still shown, by its raw issuer and subject.
    pub async fn acting_msp(
        &self,
        tenant: &Tenant,
        session: &Session,
    ) -> Result<Option<ActingMsp>> {
        let Some(act) = &session.act else {
            return Ok(None);
        };
        let iss = act["iss"].as_str().unwrap_or_default();
        let sub = act["sub"].as_str().unwrap_or_default();
        let msp = match &tenant.msp_id {
            Some(id) => self
                .tenants
                .by_id(id)
                .await?
                .filter(|m| self.issuer(&m.name) == iss),
            None => None,
        };
        let Some(msp) = msp else {
            return Ok(Some(ActingMsp {
                user: sub.to_string(),
                msp: iss.to_string(),
            }));
        };
        let mut conn = self.store.conn().await?;
        let user = crate::store::users::user_by_id(&mut conn, &msp.id, sub).await?;
        Ok(Some(ActingMsp {
            user: user
                .map(|u| {
                    if u.email.is_empty() {
                        u.display_name.unwrap_or(u.id)
                    } else {
                        u.email
                    }
                })
                .unwrap_or_else(|| sub.to_string()),
            msp: msp.display_name.clone(),
        }))
    }

    pub async fn session_by_id(&self, tenant: &Tenant, id: &str) -> Result<Option<Session>> {
        let mut conn = self.store.conn().await?;
        Ok(rows::by_id(&mut conn, &tenant.id, id, self.clock.now())
            .await?
            .map(from_row))
    }

    /// End one session; its refresh tokens and their access tokens go with it.
    pub async fn end_session(&self, tenant: &Tenant, id: &str) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !rows::delete(&mut tx, &tenant.id, id).await? {
            return Err(Error::NotFound);
        }
        crate::store::tenants::bump_version(&mut tx, &tenant.id).await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked = 1 WHERE tenant_id = $1 AND session_id = $2",
        )
        .bind(tenant.id.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(store::db)?;
        sqlx::query(
            "INSERT INTO revoked_tokens (tenant_id, jti, expires_at) SELECT tenant_id, jti, expires_at FROM issued_tokens \
             WHERE tenant_id = $1 AND session_id = $2 AND expires_at > $3 ON CONFLICT DO NOTHING",
        )
        .bind(tenant.id.as_str())
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store::db)?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(())
    }
}

/// Revocation cascade (security.md): end a user's sessions in one tenant, revoke their
/// refresh-token families, and put their outstanding access tokens on the revocation list.
pub(crate) async fn end_user(
    conn: &mut crate::store::Conn,
    tenant: &crate::ids::TenantId,
    sub: &str,
    now: i64,
) -> Result<()> {
    rows::delete_for_user(conn, tenant, sub).await?;
    crate::store::tokens::revoke_families_of_user(conn, tenant, sub).await?;
    crate::store::tokens::revoke_issued(conn, tenant, None, Some(sub), now).await?;
    // In the caller's transaction: verified-token caches of every process expire with it.
    crate::store::tenants::bump_version(conn, tenant).await?;
    Ok(())
}

/// The same for an MSP user's identity in one customer (or, with `customer` None, in every
/// customer where it has one).
pub(crate) async fn end_msp_user_in_customers(
    conn: &mut crate::store::Conn,
    msp: &crate::ids::TenantId,
    msp_user: &str,
    customer: Option<&crate::ids::TenantId>,
    now: i64,
) -> Result<()> {
    let idents: Vec<(String, String)> = sqlx::query_as(
        "SELECT tenant_id, id FROM msp_identities WHERE msp_tenant_id = $1 AND msp_user_id = $2 \
         AND ($3 IS NULL OR tenant_id = $3)",
    )
    .bind(msp.as_str())
    .bind(msp_user)
    .bind(customer.map(|c| c.as_str().to_string()))
    .fetch_all(&mut *conn)
    .await
    .map_err(store::db)?;
    for (tenant, ident) in idents {
        end_user(conn, &crate::ids::TenantId(tenant), &ident, now).await?;
    }
    Ok(())
}

impl Core {
    /// GET /sessions: an org-full admin sees every session of the org; others their own.
    pub async fn api_list_sessions(
        &self,
        call: &super::manage::OrgCall,
    ) -> Result<Vec<serde_json::Value>> {
        let mut conn = self.store.conn().await?;
        let own = (call.principal.home.id == call.org.id).then(|| call.principal.user_id.clone());
        let rows = rows::list(&mut conn, &call.org.id, self.clock.now()).await?;
        Ok(rows
            .into_iter()
            .filter(|r| call.is_org_full() || own.as_deref() == Some(r.user_id.as_str()))
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "user_id": r.user_id,
                    "amr": serde_json::from_str::<Value>(&r.amr).unwrap_or_default(),
                    "act": r.act.as_deref().and_then(|a| serde_json::from_str::<Value>(a).ok()),
                    "created_at": crate::clock::rfc3339(r.created_at),
                    "last_seen_at": crate::clock::rfc3339(r.last_seen_at),
                    "expires_at": crate::clock::rfc3339(r.expires_at.min(r.idle_expires_at)),
                })
            })
            .collect())
    }

    /// DELETE /sessions/{id}: org full, or the session's own user. Audited.
    pub async fn api_end_session(&self, call: &super::manage::OrgCall, id: &str) -> Result<()> {
        let session = self
            .session_by_id(&call.org, id)
            .await?
            .ok_or(Error::NotFound)?;
        let own =
            call.principal.home.id == call.org.id && call.principal.user_id == session.user_id;
        if !own && !call.is_org_full() {
            return Err(Error::NotFound);
        }
        self.end_session(&call.org, id).await?;
        let mut tx = self.store.begin().await?;
        super::audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            super::audit::Change {
                action: "session.end",
                target: format!("user:{}", session.user_id),
                before: Some(serde_json::json!({"session": id})),
                after: None,
            },
            self.clock.now(),
            call.request_id.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }
}

/// Session lifetimes (idle, absolute) in seconds under a tenant's settings.
pub(crate) fn lifetimes(settings: &super::settings::Settings) -> (i64, i64) {
    (
        i64::from(settings.login.session_idle_minutes) * 60,
        i64::from(settings.login.session_absolute_hours) * 3600,
    )
}
