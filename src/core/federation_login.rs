//! Signing in through an upstream IdP (issue 7 part 4; product.md "Directory and
//! federation"): the state of a sign-in sent upstream (stored keyed-hashed, single use,
//! 10 minutes, tied to the tenant, the connection and, for OIDC, the browser), and the
//! end of it once the protocol adapter has verified the upstream's answer:
//!
//! - the account is found by (connection, upstream subject) only, never by e-mail;
//! - otherwise a user is created just in time (source `federation`), unless the e-mail is
//!   already an account here: that is refused, except when the connection allows linking
//!   and the e-mail's domain is one of its verified domains;
//! - the upstream's claim values select role mappings, re-evaluated at every sign-in
//!   (the `federation` rows of `user_mapped_roles` are replaced);
//! - the session's `amr` is `["fed"]`.
//!
//! A refusal changes nothing but the audit log.

use super::audit::{self, Actor, Change};
use super::federation::{email_domain, Connection};
use super::mappings::MappingSource;
use super::sessions::Session;
use super::{Core, Error, Result};
use crate::ids::{credential, UserId};
use crate::store::{self, federation as rows, users as user_rows};
use crate::tenancy::Tenant;
use serde_json::json;

const STATE_PURPOSE: &str = "federation_state";
const BROWSER_PURPOSE: &str = "federation_browser";
/// How long a sign-in sent upstream may take.
pub const STATE_TTL: i64 = 600;

/// What the protocol adapter verified about the upstream user.
#[derive(Debug, Clone)]
pub struct UpstreamUser {
    /// The OIDC `sub` or the SAML NameID.
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The values of the connection's claim (or attribute).
    pub roles: Vec<String>,
}

/// A sign-in sent upstream, as stored.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub connection_id: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    /// A pending OIDC or SAML request to resume afterwards.
    pub pending: Option<String>,
}

/// Why a sign-in state was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// Unknown, expired or already used.
    Unknown,
    /// Started for another connection or in another browser.
    Mismatch,
}

impl Core {
    /// A fresh state for a sign-in about to go upstream (it travels there and back).
    pub fn new_federation_state(&self) -> String {
        credential("")
    }

    /// Store a sign-in about to go upstream under its state. Returns the browser cookie
    /// value that ties it to this browser, when asked for.
    pub async fn begin_federated_sign_in(
        &self,
        tenant: &Tenant,
        state: &str,
        sign_in: PendingSignIn,
        bind_browser: bool,
    ) -> Result<Option<String>> {
        let now = self.clock.now();
        let browser = bind_browser.then(|| credential(""));
        let row = rows::StateRow {
            connection_id: sign_in.connection_id,
            browser: browser
                .as_deref()
                .map(|b| self.keys.hash_credential(BROWSER_PURPOSE, b)),
            nonce: sign_in.nonce,
            pkce_verifier: sign_in.pkce_verifier,
            pending: sign_in.pending,
            expires_at: now + STATE_TTL,
        };
        let mut conn = self.store.conn().await?;
        let id = self.keys.hash_credential(STATE_PURPOSE, state);
        rows::insert_state(&mut conn, &tenant.id, &id, &row, now).await?;
        Ok(browser)
    }

    /// Take (single use) the sign-in a state names, for this connection and browser.
    pub async fn take_federated_sign_in(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        state: &str,
        browser: Option<&str>,
    ) -> Result<std::result::Result<PendingSignIn, StateProblem>> {
        if state.is_empty() || state.len() > 200 {
            return Ok(Err(StateProblem::Unknown));
        }
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        let id = self.keys.hash_credential(STATE_PURPOSE, state);
        let Some(row) = rows::take_state(&mut conn, &tenant.id, &id, now).await? else {
            return Ok(Err(StateProblem::Unknown));
        };
        if row.connection_id != connection.id {
            return Ok(Err(StateProblem::Mismatch));
        }
        if let Some(expected) = &row.browser {
            let given = browser.unwrap_or_default();
            if !self
                .keys
                .verify_credential(BROWSER_PURPOSE, given, expected)
            {
                return Ok(Err(StateProblem::Mismatch));
            }
        }
        Ok(Ok(PendingSignIn {
            connection_id: row.connection_id,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            pending: row.pending,
        }))
    }

    /// Take (single use) the SAML sign-in our AuthnRequest `request_id` started; the
    /// answer names its connection. Unsolicited responses name none.
    pub async fn take_federated_request(
        &self,
        tenant: &Tenant,
        request_id: &str,
    ) -> Result<Option<PendingSignIn>> {
        if request_id.is_empty() || request_id.len() > 200 {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        let id = self.keys.hash_credential(STATE_PURPOSE, request_id);
        let row = rows::take_state(&mut conn, &tenant.id, &id, self.clock.now()).await?;
        Ok(row.map(|r| PendingSignIn {
            connection_id: r.connection_id,
            nonce: r.nonce,
            pkce_verifier: r.pkce_verifier,
            pending: r.pending,
        }))
    }

    /// Record a consumed SAML assertion id until it expires; false for a replay.
    pub async fn consume_federated_assertion(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        assertion_id: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let mut conn = self.store.conn().await?;
        rows::consume_assertion(
            &mut conn,
            &tenant.id,
            &connection.id,
            assertion_id,
            expires_at,
            self.clock.now(),
        )
        .await
    }

    /// Audit a refused federated sign-in (nothing else changes).
    pub async fn federation_refused(
        &self,
        tenant: &Tenant,
        connection: Option<&Connection>,
        reason: &str,
        request_id: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            &Actor {
                id: "anonymous".into(),
                msp: None,
                msp_user: None,
            },
            Change {
                action: "login.federation_refused",
                target: connection
                    .map(|c| format!("federation:{}", c.id))
                    .unwrap_or_else(|| "federation".into()),
                before: None,
                after: Some(json!({"reason": reason})),
            },
            self.clock.now(),
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }

    /// Finish a sign-in whose upstream answer the adapter verified: find or create the
    /// account, re-evaluate its mapped roles, start a session with `amr: ["fed"]`.
    pub async fn finish_federated_sign_in(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        upstream: UpstreamUser,
        request_id: Option<&str>,
    ) -> Result<(Session, String)> {
        let subject = upstream.subject.trim();
        if subject.is_empty() || subject.len() > 500 {
            return Err(Error::invalid(
                "no_subject",
                "the identity provider did not name the account",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let (user_id, how) = match rows::linked_user(&mut tx, &tenant.id, &connection.id, subject)
            .await?
        {
            Some(user) => {
                rows::touch_link(&mut tx, &tenant.id, &connection.id, subject, now).await?;
                (user, "linked")
            }
            None => {
                let email = upstream
                    .email
                    .as_deref()
                    .map(str::trim)
                    .filter(|e| e.contains('@') && e.len() <= 320)
                    .ok_or_else(|| {
                        Error::invalid(
                            "no_email",
                            "the identity provider did not send an e-mail address",
                        )
                    })?;
                let norm = super::admins::normalise_email(email);
                match user_rows::find_user_by_email(&mut tx, &tenant.id, &norm).await? {
                    Some(existing) => {
                        let verified = email_domain(email).is_some_and(|d| {
                            connection
                                .domains
                                .iter()
                                .any(|x| x.verified && x.domain == d)
                        });
                        if !(connection.allow_linking && verified) {
                            return Err(Error::forbidden(
                                "account_exists",
                                "an account with this e-mail address already exists in this \
                                     organization; it cannot be signed in to through this \
                                     identity provider (ask an administrator to allow linking)",
                            ));
                        }
                        rows::link(
                            &mut tx,
                            &tenant.id,
                            &connection.id,
                            subject,
                            &existing.id,
                            now,
                        )
                        .await?;
                        (existing.id, "link")
                    }
                    None => {
                        let id = UserId::generate().to_string();
                        let name = upstream
                            .name
                            .as_deref()
                            .map(str::trim)
                            .filter(|n| !n.is_empty() && n.len() <= 200);
                        rows::insert_user(&mut tx, &tenant.id, &id, email, &norm, name, now)
                            .await?;
                        rows::link(&mut tx, &tenant.id, &connection.id, subject, &id, now).await?;
                        (id, "create")
                    }
                }
            }
        };
        let user = user_rows::user_by_id(&mut tx, &tenant.id, &user_id)
            .await?
            .ok_or(Error::NotFound)?;
        if user.status != "active" || user.locked_until.is_some_and(|t| t > now) {
            return Err(Error::forbidden(
                "locked",
                "this account is disabled or locked; ask an administrator",
            ));
        }
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            &Actor {
                id: user_id.clone(),
                msp: None,
                msp_user: None,
            },
            Change {
                action: "login.federation",
                target: format!("user:{user_id}"),
                before: None,
                after: Some(json!({"connection": connection.id, "account": how})),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        let claims: Vec<(String, String)> = upstream
            .roles
            .iter()
            .map(|v| (connection.claim.clone(), v.clone()))
            .collect();
        self.assign_mapped_roles(tenant, &user_id, MappingSource::Federation, &[], &claims)
            .await?;
        self.create_session(tenant, &user_id, &["fed"], None).await
    }
}
