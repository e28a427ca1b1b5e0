//! MSP -> customer: token exchange (RFC 8693) and the built-in switching client
//! (product.md "Switching into a customer", the one sanctioned path between issuers).
//!
//! A subject token is accepted only if its `kid` is a key of *this customer's own MSP*
//! (looked up by (MSP tenant id, kid), never from the header's contents), `iss` is that
//! MSP's issuer, `typ` is `at+jwt`, `aud` contains the customer's issuer, it is unexpired
//! and not revoked, carries no `act` (no chaining), and the MSP user is active and not
//! locked. Privileges are recomputed now; none at all is `invalid_grant`.

use super::clients::{AuthMethod, Client};
use super::tokens::Subject;
use super::{Core, Error, Result};
use crate::authz;
use crate::jws::{self, Alg};
use crate::store::{self, tokens as token_rows, users as user_rows};
use crate::tenancy::{Tenant, TenantKind};
use serde_json::{json, Value};
use std::sync::Arc;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The built-in client of an MSP through which its customers' hosts switch staff in.
pub const SWITCH_CLIENT_PREFIX: &str = "switch-";

/// What an accepted exchange yields.
#[derive(Debug, Clone)]
pub struct Exchanged {
    pub subject: Subject,
    pub act: Value,
    pub amr: Vec<String>,
    pub auth_time: i64,
    /// The subject token's expiry: nothing derived from it outlives it.
    pub not_after: i64,
}

fn invalid_grant(why: &str) -> Error {
    Error::invalid("invalid_grant", why.to_string())
}

impl Core {
    /// The client named `id` in `tenant`, or on an MSP the built-in switching client of one
    /// of its customers (`switch-{customer}`): public, PKCE, its only redirect URI the
    /// customer's `/switch/callback`.
    pub async fn client_or_builtin(&self, tenant: &Tenant, id: &str) -> Result<Option<Client>> {
        if let Some(customer) = id.strip_prefix(SWITCH_CLIENT_PREFIX) {
            if tenant.kind != TenantKind::Msp {
                return Ok(None);
            }
            return Ok(match self.tenants.by_name(customer).await? {
                Some(c) if c.msp_id.as_ref() == Some(&tenant.id) => Some(Client {
                    id: id.to_string(),
                    name: format!("Switch to {}", c.display_name),
                    auth_method: AuthMethod::None,
                    redirect_uris: vec![format!("{}/switch/callback", self.issuer(&c.name))],
                    post_logout_redirect_uris: Vec::new(),
                    grant_types: vec!["authorization_code".into()],
                    scopes: vec!["openid".into()],
                    jwks: None,
                    id_token_alg: Alg::Es256,
                    require_pkce: true,
                    admin_api: false,
                    initiate_login_uri: None,
                    created_at: crate::clock::rfc3339(c.created_at),
                }),
                _ => None,
            });
        }
        self.client(tenant, id).await
    }

    /// Check an MSP user's access token presented to `customer` and recompute what it may
    /// become there.
    pub async fn accept_subject_token(&self, customer: &Tenant, token: &str) -> Result<Exchanged> {
        let msp: Arc<Tenant> = match &customer.msp_id {
            Some(id) => self
                .tenants
                .by_id(id)
                .await?
                .ok_or_else(|| invalid_grant("no MSP"))?,
            None => return Err(invalid_grant("this organization has no MSP")),
        };
        let parsed =
            jws::parse(token).map_err(|_| invalid_grant("the subject token is malformed"))?;
        if parsed.typ() != Some("at+jwt") {
            return Err(invalid_grant("the subject token is not an access token"));
        }
        let kid = parsed
            .kid()
            .ok_or_else(|| invalid_grant("the subject token names no key"))?;
        let keys = self.tenant_keys(&msp).await?;
        let key = keys.verifiers.get(kid).ok_or_else(|| {
            invalid_grant("the subject token was not signed by this organization's MSP")
        })?;
        let claims = parsed
            .verify(key)
            .map_err(|_| invalid_grant("the subject token does not verify"))?;
        let now = self.clock.now();
        let msp_issuer = self.issuer(&msp.name);
        let customer_issuer = self.issuer(&customer.name);
        if claims["iss"] != json!(msp_issuer) {
            return Err(invalid_grant(
                "the subject token's issuer is not this organization's MSP",
            ));
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => *a == customer_issuer,
            Value::Array(a) => a
                .iter()
                .any(|x| x.as_str() == Some(customer_issuer.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(invalid_grant(
                "the subject token is not meant for this organization",
            ));
        }
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp <= now {
            return Err(invalid_grant("the subject token has expired"));
        }
        if claims.get("act").is_some_and(|a| !a.is_null()) {
            return Err(invalid_grant("delegated tokens cannot be exchanged again"));
        }
        let mut conn = self.store.conn().await?;
        if token_rows::is_revoked(
            &mut conn,
            &msp.id,
            claims["jti"].as_str().unwrap_or_default(),
        )
        .await?
        {
            return Err(invalid_grant("the subject token was revoked"));
        }
        let msp_user = claims["sub"].as_str().unwrap_or_default().to_string();
        let user = user_rows::user_by_id(&mut conn, &msp.id, &msp_user)
            .await?
            .ok_or_else(|| invalid_grant("the MSP user does not exist"))?;
        if user.status != "active" || user.locked_until.is_some_and(|l| l > now) {
            return Err(invalid_grant("the MSP user is disabled or locked"));
        }
        let model = self.org_model(&mut conn, customer).await?;
        let input = self
            .admin_input(&mut conn, customer, &msp.id, &msp_user)
            .await?;
        if super::privileges::holds_nothing(&authz::effective(&model, &input, now)) {
            return Err(invalid_grant(
                "the MSP user has no access to this organization",
            ));
        }
        let ident = self
            .msp_identity(&mut conn, customer, &msp.id, &msp_user, now)
            .await?;
        Ok(Exchanged {
            subject: Subject {
                sub: ident,
                home: msp.id.clone(),
                user_id: msp_user.clone(),
            },
            act: json!({"iss": msp_issuer, "sub": msp_user}),
            amr: serde_json::from_value(claims["amr"].clone()).unwrap_or_default(),
            auth_time: claims["auth_time"].as_i64().unwrap_or(now),
            not_after: exp,
        })
    }

    /// The customer-side id of an MSP user (`msp_...`), created on first use.
    async fn msp_identity(
        &self,
        conn: &mut store::Conn,
        customer: &Tenant,
        msp: &crate::ids::TenantId,
        msp_user: &str,
        now: i64,
    ) -> Result<String> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM msp_identities WHERE tenant_id = $1 AND msp_tenant_id = $2 AND msp_user_id = $3",
        )
        .bind(customer.id.as_str())
        .bind(msp.as_str())
        .bind(msp_user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(store::db)?;
        if let Some((id,)) = found {
            return Ok(id);
        }
        let id = format!("msp_{}", &crate::ids::UserId::generate().0[4..]);
        sqlx::query(
            "INSERT INTO msp_identities (tenant_id, id, msp_tenant_id, msp_user_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, msp_tenant_id, msp_user_id) DO NOTHING",
        )
        .bind(customer.id.as_str())
        .bind(&id)
        .bind(msp.as_str())
        .bind(msp_user)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(store::db)?;
        // Another process may have won the insert: read what is there.
        let (id,): (String,) = sqlx::query_as(
            "SELECT id FROM msp_identities WHERE tenant_id = $1 AND msp_tenant_id = $2 AND msp_user_id = $3",
        )
        .bind(customer.id.as_str())
        .bind(msp.as_str())
        .bind(msp_user)
        .fetch_one(&mut *conn)
        .await
        .map_err(store::db)?;
        Ok(id)
    }
}
