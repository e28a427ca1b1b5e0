//! Explanations and reverse queries over privileges: why an admin holds a capability, and
//! who holds it (issue: "Explanation, which no IdP we know offers"). Also the caller's own
//! privileges (`/api/v1/me/privileges`).

use super::manage::OrgCall;
use super::privileges::Principal;
use super::{Core, Error, Result};
use crate::authz::{self, OrgAccess, NETWORK_CAPABILITIES, ORG_CAPABILITIES};
use serde::Serialize;
use serde_json::{json, Value};

/// `org` or a network id the caller sees; hidden networks are "not found".
fn scope_of(call: &OrgCall, network: Option<&str>) -> Result<String> {
    match network {
        None | Some("") | Some("org") => Ok("org".to_string()),
        Some(id) if call.model.network(id).is_some() && call.eff.is_visible(id) => {
            Ok(id.to_string())
        }
        Some(_) => Err(Error::NotFound),
    }
}

/// A capability name this server knows: the org and network lists of privileges.md, or
/// `ports.NAME.manage` / `ports.NAME.capture`.
pub fn valid_capability(c: &str) -> bool {
    ORG_CAPABILITIES.contains(&c)
        || NETWORK_CAPABILITIES.contains(&c)
        || c.strip_prefix("ports.")
            .and_then(|r| {
                r.strip_suffix(".manage")
                    .or_else(|| r.strip_suffix(".capture"))
            })
            .is_some_and(authz::valid_tag)
}

fn check_capability(c: &str) -> Result<()> {
    if valid_capability(c) {
        Ok(())
    } else {
        Err(Error::invalid(
            "invalid_capability",
            format!(
                "'{c}' is not a capability (e.g. org.edit, network.config.view, ports.NAME.manage)"
            ),
        ))
    }
}

#[derive(Debug, Serialize)]
pub struct Holder {
    pub admin: String,
    pub email: String,
    pub designations: Vec<&'static str>,
    pub reasons: Vec<authz::Reason>,
}

impl Core {
    /// GET /explain?admin=&network=&capability=
    pub async fn explain(
        &self,
        call: &OrgCall,
        admin: &str,
        network: Option<&str>,
        capability: &str,
    ) -> Result<Value> {
        check_capability(capability)?;
        let scope = scope_of(call, network)?;
        let mut conn = self.store.conn().await?;
        let (a, res, _) = self.find_admin(&mut conn, call, admin).await?;
        let (input, _) = self
            .admin_effective(&mut conn, &call.org, &call.model, &a)
            .await?;
        let e = authz::explain(&call.model, &input, self.clock.now(), &scope, capability);
        Ok(json!({
            "admin": res.id,
            "email": res.email,
            "scope": scope,
            "capability": capability,
            "held": e.held,
            "reasons": e.reasons,
        }))
    }

    /// GET /who-can?capability=&network=: every admin the caller may see who holds it,
    /// with the reasons.
    pub async fn who_can(
        &self,
        call: &OrgCall,
        capability: &str,
        network: Option<&str>,
    ) -> Result<Value> {
        check_capability(capability)?;
        let scope = scope_of(call, network)?;
        let admins = self
            .list_org_admins(call, &super::manage::AdminFilter::default())
            .await?;
        let mut conn = self.store.conn().await?;
        let refs = self.org_admins(&mut conn, &call.org).await?;
        let now = self.clock.now();
        let mut holders = Vec::new();
        for res in admins {
            let Some(a) = refs.iter().find(|r| r.id == res.id) else {
                continue;
            };
            let (input, _) = self
                .admin_effective(&mut conn, &call.org, &call.model, a)
                .await?;
            let e = authz::explain(&call.model, &input, now, &scope, capability);
            if e.held {
                holders.push(Holder {
                    admin: res.id,
                    email: res.email,
                    designations: res.designations,
                    reasons: e.reasons,
                });
            }
        }
        Ok(json!({"scope": scope, "capability": capability, "admins": holders}))
    }

    /// GET /me/privileges[?org=]: the caller's effective privileges in its own tenant or,
    /// on an MSP host, in a customer it reaches.
    pub async fn my_privileges(&self, principal: &Principal, org: Option<&str>) -> Result<Value> {
        let name = org.unwrap_or(&principal.home.name);
        let call = self.org_call(principal, name, None).await?;
        let mut msp = Value::Null;
        let mut conn = self.store.conn().await?;
        let standing =
            super::standing::Standing::load(&mut conn, &principal.home.id, &principal.user_id)
                .await?;
        if let Some(role) = standing.role() {
            msp = json!({"tenant": principal.home.name, "role": role});
        }
        let capabilities = json!({
            "org": call.eff.capabilities(&call.model, "org"),
        });
        Ok(json!({
            "tenant": call.org.name,
            "org_access": call.eff.org_access,
            "org_roles": call.eff.org_roles,
            "networks": call.eff.networks,
            "capabilities": capabilities,
            "msp": msp,
            "is_org_full": call.eff.org_access == OrgAccess::Full,
        }))
    }

    /// GET /me
    pub async fn me(&self, principal: &Principal) -> Result<Value> {
        let mut conn = self.store.conn().await?;
        let user =
            crate::store::users::user_by_id(&mut conn, &principal.home.id, &principal.user_id)
                .await?
                .ok_or(Error::NotFound)?;
        let standing =
            super::standing::Standing::load(&mut conn, &principal.home.id, &principal.user_id)
                .await?;
        Ok(json!({
            "user_id": user.id,
            "email": user.email,
            "name": user.display_name,
            "tenant": principal.home.name,
            "tenant_kind": principal.home.kind,
            "msp_role": standing.role(),
            "api_key_id": principal.api_key_id,
        }))
    }
}

/// `?actor=&msp_only=&since=&limit=&cursor=` of GET /audit.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub msp_only: Option<bool>,
    /// RFC 3339 or unix seconds.
    pub since: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn parse_time(s: &str) -> Result<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            Error::invalid(
                "invalid_since",
                "since must be an RFC 3339 time or unix seconds",
            )
        })
}

impl Core {
    /// GET /audit, newest first: org read-only and above (rule 2 lets them look, not touch).
    pub async fn audit_entries(&self, call: &OrgCall, q: &AuditQuery) -> Result<Value> {
        if !call.can("org", "org.view") {
            return Err(Error::forbidden(
                "insufficient_privileges",
                "the audit log needs org read-only access",
            ));
        }
        let limit = q.limit.unwrap_or(50);
        if limit == 0 || limit > 500 {
            return Err(Error::invalid(
                "invalid_limit",
                "limit must be between 1 and 500",
            ));
        }
        let before_seq = match q.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| {
                Error::invalid("invalid_cursor", "the cursor is not one this API issued")
            })?),
        };
        let filter = crate::store::audit::EntryFilter {
            actor: q.actor.clone(),
            msp_only: q.msp_only.unwrap_or(false),
            since: q.since.as_deref().map(parse_time).transpose()?,
            before_seq,
            limit: i64::from(limit) + 1,
        };
        let mut conn = self.store.conn().await?;
        let mut rows = crate::store::audit::search(&mut conn, &call.org.id, &filter).await?;
        let next = (rows.len() > limit as usize).then(|| {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.seq.to_string())
        });
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
        };
        let items: Vec<Value> = rows
            .iter()
            .map(|e| {
                json!({
                    "seq": e.seq,
                    "time": crate::clock::rfc3339(e.at),
                    "actor": e.actor,
                    "actor_msp": e.actor_msp,
                    "actor_msp_user": e.actor_msp_user,
                    "action": e.action,
                    "target": e.target,
                    "before": parse(&e.before_state),
                    "after": parse(&e.after_state),
                    "request_id": e.request_id,
                    "hash": e.hash,
                })
            })
            .collect();
        Ok(json!({"items": items, "next_cursor": next.flatten()}))
    }

    /// GET /audit/verify: org read-only and above.
    pub async fn audit_verify(&self, call: &OrgCall) -> Result<super::audit::Verification> {
        if !call.can("org", "org.view") {
            return Err(Error::forbidden(
                "insufficient_privileges",
                "verifying the audit log needs org read-only access",
            ));
        }
        let mut conn = self.store.conn().await?;
        super::audit::verify(&mut conn, &call.org.id).await
    }

    /// The admin's API keys live in the admin's own tenant: only local admins have them
    /// here. The admin may manage their own; org full admins anyone's.
    async fn key_owner(&self, call: &OrgCall, admin: &str) -> Result<String> {
        let mut conn = self.store.conn().await?;
        let (a, _, _) = self.find_admin(&mut conn, call, admin).await?;
        if a.home.id != call.org.id {
            return Err(Error::conflict(
                "not_a_local_admin",
                "API keys of MSP staff are managed on the MSP host",
            ));
        }
        let is_self = call.principal.home.id == call.org.id && call.principal.user_id == a.user_id;
        if !is_self {
            call.require_org_full("manage another admin's API keys")?;
        }
        Ok(a.user_id)
    }

    pub async fn api_create_key(
        &self,
        call: &OrgCall,
        admin: &str,
        name: &str,
    ) -> Result<super::apikeys::ApiKeyView> {
        let user = self.key_owner(call, admin).await?;
        self.create_api_key(&call.org, &user, name, &call.actor())
            .await
    }

    pub async fn api_list_keys(
        &self,
        call: &OrgCall,
        admin: &str,
    ) -> Result<Vec<super::apikeys::ApiKeyView>> {
        let user = self.key_owner(call, admin).await?;
        self.list_api_keys(&call.org, &user).await
    }

    pub async fn api_revoke_key(&self, call: &OrgCall, id: &str) -> Result<()> {
        let key = self.api_key(&call.org, id).await?;
        let is_self =
            call.principal.home.id == call.org.id && call.principal.user_id == key.user_id;
        if !is_self && !call.is_org_full() {
            return Err(Error::NotFound);
        }
        self.revoke_api_key(&call.org, id, &call.actor()).await
    }
}
