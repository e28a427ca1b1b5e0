//! Passkeys: enrolment from a link, usernameless login, the account's own list, lockout
//! (product.md "Sign-in"; security.md lifetimes: ceremony state 5 min single use).
//!
//! Lockout: failures are counted per (tenant, account) in the database, and only those of
//! the last `lockout_minutes` of the tenant's login policy; reaching `lockout_threshold`
//! locks the account for `lockout_minutes`, after which the count starts over. A lock is
//! lifted early per rule 6 (admin API) or by `tenantry admin unlock`. Inactive users
//! neither enrol nor sign in.
//!
//! Speaks our own types: a credential is opaque JSON text that the webauthn adapter
//! produced, plus the facts core needs (credential id, counter, backup flags). Must not
//! import webauthn-rs, axum or http.

use super::audit::{self, Actor, Change};
use super::sessions::Session;
use super::{Core, Error, Result};
use crate::store::{self, passkeys as rows, users as user_rows};
use crate::tenancy::Tenant;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

/// WebAuthn ceremony state lives 5 minutes (security.md "Lifetimes").
pub const CEREMONY_SECONDS: i64 = 300;
/// Failed sign-in or enrolment attempts one client address may make per window before
/// it is refused (on top of the per-account lockout).
pub const CLIENT_FAILURE_LIMIT: i64 = 20;
pub const CLIENT_FAILURE_WINDOW: i64 = 15 * 60;
/// Must equal the purpose core::admins hashes enrolment links under.
const ENROLMENT_PURPOSE: &str = "enrolment";
/// Every this many ceremony starts (in this process), expired ceremonies are swept.
const SWEEP_EVERY: u64 = 64;
static SWEEP_COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Register,
    Login,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::Login => "login",
        }
    }
}

/// The person an open enrolment link belongs to.
#[derive(Debug, Clone)]
pub struct EnrolUser {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    /// Credential ids already registered (to exclude them).
    pub credential_ids: Vec<String>,
}

/// A verified new credential, ready to store.
#[derive(Debug, Clone)]
pub struct NewPasskey {
    pub credential_id: String,
    pub passkey: String,
    pub name: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// A stored credential found by its id for a login.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub passkey_id: String,
    pub user_id: String,
    pub passkey: String,
    /// Locked out (or disabled): refuse before verifying.
    pub locked: bool,
    /// Failed sign-ins are on record: a success clears them.
    pub has_failures: bool,
    /// (idle, absolute) seconds for the session a success starts.
    pub session_lifetimes: (i64, i64),
}

/// What a verified assertion changed.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub passkey: String,
    pub counter: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// Why an assertion that named a known credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    Verification,
    CounterRegression,
}

fn actor(user: Option<&str>) -> Actor {
    Actor {
        id: user.unwrap_or("anonymous").to_string(),
        msp: None,
        msp_user: None,
    }
}

impl Core {
    fn link_hash(&self, token: &str) -> String {
        self.keys.hash_credential(ENROLMENT_PURPOSE, token)
    }

    /// Who an open enrolment link is for (never consumes it).
    pub async fn enrolment_target(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<Option<EnrolUser>> {
        let Some(user) = self.enrolment_user(tenant, token).await? else {
            return Ok(None);
        };
        // A disabled (or otherwise inactive) user's link is as good as no link.
        let mut conn = self.store.conn().await?;
        match user_rows::user_by_id(&mut conn, &tenant.id, user.as_str()).await? {
            Some(u) if u.status == "active" => {}
            _ => return Ok(None),
        }
        drop(conn);
        self.passkey_user(tenant, user.as_str()).await
    }

    /// A user as a registration needs them, with the credentials they already have.
    pub async fn passkey_user(&self, tenant: &Tenant, user: &str) -> Result<Option<EnrolUser>> {
        let mut conn = self.store.conn().await?;
        let Some(u) = user_rows::user_by_id(&mut conn, &tenant.id, user).await? else {
            return Ok(None);
        };
        let creds = rows::of_user(&mut conn, &tenant.id, &u.id).await?;
        Ok(Some(EnrolUser {
            user_id: u.id,
            email: u.email,
            display_name: u.display_name,
            credential_ids: creds.into_iter().map(|c| c.credential_id).collect(),
        }))
    }

    /// Store a ceremony's state; returns its id. A registration is bound to the link.
    pub async fn begin_ceremony(
        &self,
        tenant: &Tenant,
        kind: CeremonyKind,
        user: Option<&str>,
        link_token: Option<&str>,
        state: String,
    ) -> Result<String> {
        let now = self.clock.now();
        let row = rows::CeremonyRow {
            id: crate::ids::credential("wac_"),
            kind: kind.as_str().into(),
            user_id: user.map(str::to_string),
            link_hash: link_token.map(|t| self.link_hash(t)),
            state,
            expires_at: now + CEREMONY_SECONDS,
            created_at: now,
        };
        let sweep = SWEEP_COUNTER.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == 0;
        if let Some(done) = self
            .store
            .direct_write(|tx| {
                if sweep {
                    store::hot::sweep_ceremonies(tx, &tenant.id, now)?;
                }
                store::hot::insert_ceremony(tx, &tenant.id, &row)
            })
            .await
        {
            return done.map(|()| row.id);
        }
        let store = self.store.clone();
        let tenant_id = tenant.id.clone();
        self.store
            .on_writer(async move {
                let mut conn = store.write().await?;
                // Expired ceremonies are refused anyway; sweeping them now and then (not on
                // every start) keeps the table small without a second write per sign-in.
                if sweep {
                    rows::sweep_ceremonies(&mut conn, &tenant_id, now).await?;
                }
                rows::insert_ceremony(&mut conn, &tenant_id, &row).await?;
                Ok(row.id)
            })
            .await
    }

    /// Take a ceremony (it is deleted whatever happens next). Returns (user, state) when
    /// it exists, is unexpired, and (for a registration) belongs to this link.
    pub async fn take_ceremony(
        &self,
        tenant: &Tenant,
        id: &str,
        kind: CeremonyKind,
        link_token: Option<&str>,
    ) -> Result<Option<(Option<String>, String)>> {
        if id.len() > 100 {
            return Ok(None);
        }
        let taken = match self
            .store
            .direct_write(|tx| store::hot::take_ceremony(tx, &tenant.id, id, kind.as_str()))
            .await
        {
            Some(taken) => taken?,
            None => {
                let store = self.store.clone();
                let (tenant_id, id) = (tenant.id.clone(), id.to_string());
                self.store
                    .on_writer(async move {
                        let mut conn = store.write().await?;
                        rows::take_ceremony(&mut conn, &tenant_id, &id, kind.as_str()).await
                    })
                    .await?
            }
        };
        let Some(row) = taken else {
            return Ok(None);
        };
        if row.expires_at <= self.clock.now() {
            return Ok(None);
        }
        if row.link_hash.as_deref() != link_token.map(|t| self.link_hash(t)).as_deref() {
            return Ok(None);
        }
        Ok(Some((row.user_id, row.state)))
    }

    /// Hold a login ceremony for a sign-in. On SQLite it is only read here: the sign-in's
    /// own transaction deletes it (one commit less per sign-in), and a refusal releases it
    /// with [`Self::release_login_ceremony`]; elsewhere it is taken at once. `None` when
    /// it is unknown, used or expired.
    pub async fn hold_login_ceremony(&self, tenant: &Tenant, id: &str) -> Result<Option<Held>> {
        if id.len() > 100 {
            return Ok(None);
        }
        let kind = CeremonyKind::Login.as_str();
        if let Some(d) = self.store.direct() {
            let Some((state, expires_at)) = store::hot::peek_ceremony(d, &tenant.id, id, kind)?
            else {
                return Ok(None);
            };
            if expires_at <= self.clock.now() {
                self.take_ceremony(tenant, id, CeremonyKind::Login, None)
                    .await?;
                return Ok(None);
            }
            return Ok(Some(Held {
                id: id.to_string(),
                state,
                taken: false,
            }));
        }
        Ok(self
            .take_ceremony(tenant, id, CeremonyKind::Login, None)
            .await?
            .map(|(_, state)| Held {
                id: id.to_string(),
                state,
                taken: true,
            }))
    }

    /// A held ceremony that did not end in a sign-in is used up all the same.
    pub async fn release_login_ceremony(&self, tenant: &Tenant, held: &Held) -> Result<()> {
        if !held.taken {
            self.take_ceremony(tenant, &held.id, CeremonyKind::Login, None)
                .await?;
        }
        Ok(())
    }

    /// A verified registration: consume the link, store the passkey, mark the admin
    /// enrolled (one transaction), then start a session.
    pub async fn finish_enrolment(
        &self,
        tenant: &Tenant,
        token: &str,
        user: &str,
        passkey: NewPasskey,
        request_id: Option<&str>,
    ) -> Result<(Session, String)> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let active = user_rows::user_by_id(&mut tx, &tenant.id, user)
            .await?
            .is_some_and(|u| u.status == "active");
        if !active
            || !rows::consume_link(&mut tx, &tenant.id, user, &self.link_hash(token), now).await?
        {
            return Err(Error::invalid(
                "link_invalid",
                "this enrolment link is no longer valid",
            ));
        }
        let id = insert_passkey(&mut tx, tenant, user, &passkey, now).await?;
        rows::mark_enrolled(&mut tx, &tenant.id, user, now).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            &actor(Some(user)),
            Change {
                action: "passkey.register",
                target: format!("user:{user}"),
                before: None,
                after: Some(json!({"passkey": id, "name": passkey.name})),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.create_session(tenant, user, &["webauthn"], None).await
    }

    /// A signed-in user adds another passkey (the ceremony was bound to them).
    pub async fn add_passkey(
        &self,
        tenant: &Tenant,
        user: &str,
        passkey: NewPasskey,
        request_id: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let id = insert_passkey(&mut tx, tenant, user, &passkey, now).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            &actor(Some(user)),
            Change {
                action: "passkey.register",
                target: format!("user:{user}"),
                before: None,
                after: Some(json!({"passkey": id, "name": passkey.name})),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }

    /// The credential an assertion names, in this tenant only.
    pub async fn login_candidate(
        &self,
        tenant: &Tenant,
        credential_id: &str,
    ) -> Result<Option<LoginCandidate>> {
        if credential_id.len() > 1400 {
            return Ok(None);
        }
        let found = match self.store.direct() {
            Some(d) => store::hot::login_candidate(d, &tenant.id, credential_id)?,
            None => {
                let mut conn = self.store.conn().await?;
                rows::login_candidate(&mut conn, &tenant.id, credential_id).await?
            }
        };
        let Some(c) = found else {
            return Ok(None);
        };
        let now = self.clock.now();
        Ok(Some(LoginCandidate {
            passkey_id: c.id,
            user_id: c.user_id,
            passkey: c.passkey,
            locked: c.status != "active" || c.locked_until.is_some_and(|t| t > now),
            has_failures: c.has_failures != 0,
            session_lifetimes: super::sessions::lifetimes(&super::settings::parse(&c.settings)),
        }))
    }

    /// A verified assertion: record the counter (refusing a concurrent regression), reset
    /// the failure count, audit, and start a session.
    pub async fn finish_login(
        &self,
        tenant: &Tenant,
        candidate: &LoginCandidate,
        assertion: Assertion,
        ceremony: &Held,
        request_id: Option<&str>,
    ) -> Result<(Session, String)> {
        let now = self.clock.now();
        let done = match self
            .finish_login_direct(tenant, candidate, &assertion, ceremony, now, request_id)
            .await?
        {
            Direct::Done(session) => Some(session),
            Direct::Regression => None,
            Direct::CeremonyUsed => return Err(ceremony_used()),
            Direct::Unavailable => {
                if !ceremony.taken
                    && self
                        .take_ceremony(tenant, &ceremony.id, CeremonyKind::Login, None)
                        .await?
                        .is_none()
                {
                    return Err(ceremony_used());
                }
                self.finish_login_pooled(tenant, candidate, assertion, now, request_id)
                    .await?
            }
        };
        match done {
            Some(session) => Ok(session),
            None => {
                self.login_failed(
                    tenant,
                    Some(&candidate.user_id),
                    LoginFailure::CounterRegression,
                    request_id,
                )
                .await?;
                Err(regression())
            }
        }
    }

    /// The common sign-in on SQLite's direct writer (store/direct.rs): counter, audit
    /// entry and session in one transaction with no thread hop. Unavailable (nothing
    /// written) on PostgreSQL, when failures must be cleared, or when the audit chain
    /// needs the pooled path (head moved, checkpoint due).
    async fn finish_login_direct(
        &self,
        t: &Tenant,
        c: &LoginCandidate,
        assertion: &Assertion,
        ceremony: &Held,
        now: i64,
        rid: Option<&str>,
    ) -> Result<Direct> {
        if c.has_failures {
            return Ok(Direct::Unavailable);
        }
        let done = self
            .store
            .direct_write(|tx| {
                // The ceremony goes with the sign-in; a concurrent finish of the same
                // ceremony finds it gone and writes nothing.
                let login = CeremonyKind::Login.as_str();
                if !ceremony.taken && !store::hot::delete_ceremony(tx, &t.id, &ceremony.id, login)?
                {
                    return Ok(Direct::CeremonyUsed);
                }
                let recorded = store::hot::record_use(
                    tx,
                    &t.id,
                    &c.passkey_id,
                    &assertion.passkey,
                    assertion.counter,
                    assertion.backup_eligible,
                    assertion.backup_state,
                    now,
                )?;
                if !recorded {
                    return Ok(Direct::Regression);
                }
                let change = Change {
                    action: "login.passkey",
                    target: format!("user:{}", c.user_id),
                    before: None,
                    after: Some(json!({"passkey": c.passkey_id})),
                };
                if !audit::append_direct(tx, &t.id, &actor(Some(&c.user_id)), change, now, rid)? {
                    tx.roll_back();
                    return Ok(Direct::Unavailable);
                }
                let session = self.insert_session_direct(
                    tx,
                    t,
                    &c.user_id,
                    &["webauthn"],
                    c.session_lifetimes,
                )?;
                Ok(Direct::Done(session))
            })
            .await;
        done.unwrap_or(Ok(Direct::Unavailable))
    }

    /// [`Self::finish_login_direct`] through the pool, on the SQLite writer thread or on
    /// PostgreSQL: `None` on a counter regression.
    async fn finish_login_pooled(
        &self,
        tenant: &Tenant,
        candidate: &LoginCandidate,
        assertion: Assertion,
        now: i64,
        request_id: Option<&str>,
    ) -> Result<Option<(Session, String)>> {
        let core = self.clone();
        let (t, c) = (tenant.clone(), candidate.clone());
        let rid = request_id.map(str::to_string);
        self.store
            .on_writer(async move {
                let mut tx = core.store.begin().await?;
                let recorded = rows::record_use(
                    &mut tx,
                    &t.id,
                    &c.passkey_id,
                    &assertion.passkey,
                    assertion.counter,
                    assertion.backup_eligible,
                    assertion.backup_state,
                    now,
                )
                .await?;
                if !recorded {
                    return Ok(None);
                }
                if c.has_failures {
                    rows::reset_failures(&mut tx, &t.id, &c.user_id).await?;
                }
                audit::append(
                    &core.keys,
                    &mut tx,
                    &t.id,
                    &actor(Some(&c.user_id)),
                    Change {
                        action: "login.passkey",
                        target: format!("user:{}", c.user_id),
                        before: None,
                        after: Some(json!({"passkey": c.passkey_id})),
                    },
                    now,
                    rid.as_deref(),
                )
                .await?;
                // The session commits with the counter and the audit entry: one commit
                // per sign-in.
                let session = core
                    .insert_session(
                        &mut tx,
                        &t,
                        &c.user_id,
                        &["webauthn"],
                        None,
                        None,
                        c.session_lifetimes,
                    )
                    .await?;
                tx.commit().await.map_err(store::db)?;
                Ok(Some(session))
            })
            .await
    }

    /// An assertion that named one of `user`'s credentials failed: count it (locking at
    /// the tenant's threshold) and audit.
    pub async fn login_failed(
        &self,
        tenant: &Tenant,
        user: Option<&str>,
        why: LoginFailure,
        request_id: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let (_, settings) = super::settings::load(&mut tx, tenant).await?;
        let threshold = i64::from(settings.login.lockout_threshold);
        // The lockout time is also the window failures are counted in: a failure older
        // than one lock period no longer counts.
        let window = i64::from(settings.login.lockout_minutes) * 60;
        let until = now + window;
        let reason = match why {
            LoginFailure::Verification => "verification_failed",
            LoginFailure::CounterRegression => "counter_regression",
        };
        let mut count = 0;
        if let Some(u) = user {
            count = rows::count_failure(
                &mut tx, &tenant.id, u, reason, now, window, threshold, until,
            )
            .await?;
        }
        let target = user.map_or_else(|| "passkey:unknown".into(), |u| format!("user:{u}"));
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            &actor(user),
            Change {
                action: "login.failure",
                target: target.clone(),
                before: None,
                after: Some(
                    json!({"reason": reason, "failed_logins": count, "window_seconds": window}),
                ),
            },
            now,
            request_id,
        )
        .await?;
        if user.is_some() && count >= threshold {
            audit::append(
                &self.keys,
                &mut tx,
                &tenant.id,
                &actor(user),
                Change {
                    action: "user.locked",
                    target,
                    before: None,
                    after: Some(json!({"until": crate::clock::rfc3339(until)})),
                },
                now,
                request_id,
            )
            .await?;
        }
        tx.commit().await.map_err(store::db)
    }

    /// Audit a refused sign-in or enrolment step that counts against no one.
    pub async fn audit_refusal(
        &self,
        tenant: &Tenant,
        action: &str,
        user: Option<&str>,
        reason: &str,
        request_id: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            &actor(user),
            Change {
                action,
                target: user.map_or_else(|| "anonymous".into(), |u| format!("user:{u}")),
                before: None,
                after: Some(json!({"reason": reason})),
            },
            self.clock.now(),
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }

    /// Has this client address used up its failures for the current window?
    pub async fn client_rate_limited(&self, tenant: &Tenant, client: &str) -> Result<bool> {
        let now = self.clock.now();
        let n = match self.store.direct() {
            Some(d) => {
                store::hot::client_failures(d, &tenant.id, client, now, CLIENT_FAILURE_WINDOW)?
            }
            None => {
                let mut conn = self.store.conn().await?;
                rows::client_failures(&mut conn, &tenant.id, client, now, CLIENT_FAILURE_WINDOW)
                    .await?
            }
        };
        Ok(n >= CLIENT_FAILURE_LIMIT)
    }

    /// Count a failed attempt against a client address.
    pub async fn count_client_failure(&self, tenant: &Tenant, client: &str) -> Result<()> {
        let mut conn = self.store.conn().await?;
        rows::count_client_failure(
            &mut conn,
            &tenant.id,
            client,
            self.clock.now(),
            CLIENT_FAILURE_WINDOW,
        )
        .await
    }

    pub async fn list_passkeys(&self, tenant: &Tenant, user: &str) -> Result<Vec<PasskeyView>> {
        let mut conn = self.store.conn().await?;
        Ok(rows::of_user(&mut conn, &tenant.id, user)
            .await?
            .into_iter()
            .map(|p| PasskeyView {
                id: p.id,
                name: p.name,
                created_at: crate::clock::rfc3339(p.created_at),
                last_used_at: p.last_used_at.map(crate::clock::rfc3339),
                backup_eligible: p.backup_eligible != 0,
                backup_state: p.backup_state != 0,
            })
            .collect())
    }

    /// Remove one of my passkeys; the last one stays (passkeys are the only sign-in
    /// method a local account has today).
    pub async fn remove_passkey(
        &self,
        tenant: &Tenant,
        user: &str,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let mine = rows::of_user(&mut tx, &tenant.id, user).await?;
        if !mine.iter().any(|p| p.id == id) {
            return Err(Error::NotFound);
        }
        if mine.len() <= 1 {
            return Err(Error::conflict(
                "last_passkey",
                "this is your only passkey; add another before removing it",
            ));
        }
        rows::delete(&mut tx, &tenant.id, user, id).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            &actor(Some(user)),
            Change {
                action: "passkey.remove",
                target: format!("user:{user}"),
                before: Some(json!({"passkey": id})),
                after: None,
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }
}

async fn insert_passkey(
    conn: &mut store::Conn,
    tenant: &Tenant,
    user: &str,
    passkey: &NewPasskey,
    now: i64,
) -> Result<String> {
    let id = crate::ids::credential("pk_")[..23].to_string();
    rows::insert(
        conn,
        &tenant.id,
        &rows::PasskeyRow {
            id: id.clone(),
            user_id: user.into(),
            credential_id: passkey.credential_id.clone(),
            passkey: passkey.passkey.clone(),
            name: passkey.name.clone(),
            sign_count: passkey.sign_count,
            backup_eligible: store::flag(passkey.backup_eligible),
            backup_state: store::flag(passkey.backup_state),
            created_at: now,
            last_used_at: None,
        },
    )
    .await?;
    Ok(id)
}

/// A login ceremony held by a sign-in (see [`Core::hold_login_ceremony`]).
#[derive(Debug, Clone)]
pub struct Held {
    pub id: String,
    pub state: String,
    /// Already deleted (taken) rather than only read.
    taken: bool,
}

/// Another finish of the same ceremony got there first.
fn ceremony_used() -> Error {
    Error::Invalid {
        code: "ceremony_invalid",
        message: "this sign-in expired or was already used; start again".into(),
    }
}

/// How a sign-in on the direct writer ended.
enum Direct {
    Done((Session, String)),
    Regression,
    CeremonyUsed,
    /// Nothing written: take the pooled path.
    Unavailable,
}

pub fn regression() -> Error {
    Error::Unauthenticated {
        code: "counter_regression",
        message: "this passkey's signature counter went backwards; it may have been cloned".into(),
    }
}
