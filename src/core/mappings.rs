//! Role mappings: a directory group (by SCIM group id or display name) or a federation
//! claim value maps to a privilege bundle (product.md "Directory and federation";
//! privileges.md "Where grants come from" item 4). Managing them follows rule 1 (only
//! org-`full` admins change them; org read-only admins read them) and rule 5 (a bundle
//! never exceeds what its author holds). `assign_mapped_roles` is what SCIM and inbound
//! federation call to record which mappings select a user. Privileges are read from the
//! database on every request, so a changed or deleted mapping counts at the next one.
//!
//! Codes: `org_full_required`, `insufficient_privileges`, `exceeds_own_privileges`,
//! `invalid_name`, `name_taken`, `selector_in_use`, `invalid_selector`, `unknown_org_role`,
//! `invalid_grant`, `unknown_network`, `unknown_port_privilege`, `msp_role_not_allowed`,
//! `invalid_msp_role`, `invalid_msp_scope`, `unknown_customer`.
//!
//! Imports store and authz, never http or axum.

use super::admins::check_grants;
use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
use super::privileges::{bundle_from_json, bundle_to_json};
use super::{Core, Error, Result};
use crate::authz::{self, sources::HELPDESK, Bundle, Grant, NetworkAccess, OrgAccess, Target};
use crate::clock::rfc3339;
use crate::ids::{MappingId, TenantId};
use crate::store::{self, mappings as rows, tenants as tenant_rows, Conn};
use crate::tenancy::{Tenant, TenantKind};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Where an assignment comes from; each source replaces only its own rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingSource {
    /// SCIM group membership.
    Directory,
    /// SAML attributes or OIDC claims at sign-in.
    Federation,
}

impl MappingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingSource::Directory => "directory",
            MappingSource::Federation => "federation",
        }
    }
}

/// A role mapping as the admin API shows it.
///
/// On an MSP tenant `msp_role`/`msp_scope` make the mapping's holders MSP staff from the
/// MSP's own directory: in every customer the scope covers they get that MSP role's
/// bundle, explained as this mapped role (core::privileges::admin_input); `bundle` counts
/// in the MSP tenant itself (plus org full there for a mapped super-user).
#[derive(Debug, Clone, Serialize)]
pub struct MappingResource {
    pub id: String,
    pub name: String,
    /// `org_access` is always present here (`none` when the bundle gives none).
    pub bundle: Bundle,
    pub selectors: Vec<Selector>,
    pub msp_role: Option<String>,
    /// `"all"` or the canonical names of the listed customers.
    pub msp_scope: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// `group_id` or `group_name` with a value, or `claim` with the claim's name and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleInput {
    pub org_access: Option<OrgAccess>,
    #[serde(default)]
    pub org_roles: Vec<String>,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// POST /role-mappings body (`name` required), and PATCH /role-mappings/{id} body: each
/// field given replaces the current one; `null` clears `msp_role` (and its `msp_scope`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingChange {
    pub name: Option<String>,
    pub bundle: Option<BundleInput>,
    pub selectors: Option<Vec<Selector>>,
    #[serde(default, deserialize_with = "given")]
    pub msp_role: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    pub msp_scope: Option<Option<Value>>,
}

/// Tells a field given as `null` (Some(None)) from one left out (None).
fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A mapping some selectors picked; ordered by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SelectedMapping {
    pub name: String,
    pub id: String,
}

const MAX_SELECTORS: usize = 200;
const MAX_TEXT: usize = 256;
const SELECTOR_SHAPE: &str =
    "a selector is {\"kind\": \"group_id\" or \"group_name\", \"value\": ...} \
     or {\"kind\": \"claim\", \"claim\": \"role\", \"value\": ...}";

fn bad<T>(code: &'static str, message: impl std::fmt::Display) -> Result<T> {
    Err(Error::invalid(code, message))
}

fn exceeds(message: impl std::fmt::Display) -> Error {
    Error::forbidden("exceeds_own_privileges", message)
}

fn validate_name(name: &str) -> Result<String> {
    if !authz::valid_tag(name) {
        return bad(
            "invalid_name",
            "a role mapping name is 1 to 64 lower-case letters, digits, '_' or '-'",
        );
    }
    Ok(name.to_string())
}

fn selector_text(s: &str, what: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() || t.len() > MAX_TEXT || t.chars().any(char::is_control) {
        let m = format!("a selector's {what} must be 1 to {MAX_TEXT} printable characters");
        return bad("invalid_selector", m);
    }
    Ok(t.to_string())
}

/// Kinds `group_id` and `group_name` name no claim, `claim` names one; values trimmed,
/// duplicates dropped.
fn clean_selectors(input: &[Selector]) -> Result<Vec<Selector>> {
    if input.len() > MAX_SELECTORS {
        let m = format!("a role mapping has at most {MAX_SELECTORS} selectors");
        return bad("invalid_selector", m);
    }
    let mut out = BTreeSet::new();
    for s in input {
        let claim = match (s.kind.as_str(), &s.claim) {
            ("group_id" | "group_name", None) => None,
            ("claim", Some(c)) => Some(selector_text(c, "claim")?),
            _ => return bad("invalid_selector", SELECTOR_SHAPE),
        };
        let (kind, value) = (s.kind.clone(), selector_text(&s.value, "value")?);
        out.insert(Selector { kind, claim, value });
    }
    Ok(out.into_iter().collect())
}

/// Validate a bundle against the org and, by rule 5, against what the caller holds.
fn check_bundle(call: &OrgCall, input: &BundleInput) -> Result<Bundle> {
    if let Some(a) = input.org_access {
        authz::may_grant_org_access(&call.eff, a).map_err(exceeds)?;
    }
    let mut org_roles = BTreeSet::new();
    for r in &input.org_roles {
        if r != HELPDESK {
            let m = format!("unknown org role '{r}': the only org role is {HELPDESK}");
            return bad("unknown_org_role", m);
        }
        if !call.is_org_full() && !call.eff.org_roles.contains(r) {
            return Err(exceeds(format!("you do not hold the org role {r}")));
        }
        org_roles.insert(r.clone());
    }
    let mut grants = BTreeSet::new();
    for g in &input.grants {
        check_grant(call, g)?;
        grants.insert(g.clone());
    }
    Ok(Bundle {
        org_access: input.org_access,
        org_roles: org_roles.into_iter().collect(),
        grants: grants.into_iter().collect(),
    })
}

/// The admins API's grant checks (privileges.md "Levels" and rule 5).
fn check_grant(call: &OrgCall, g: &Grant) -> Result<()> {
    match (&g.target, &g.access) {
        (Target::All, _) => {
            return bad(
                "invalid_grant",
                "the target 'all' belongs to MSP roles; grant a network or a tag",
            );
        }
        (Target::Tag(_), NetworkAccess::Port(_)) => {
            return bad(
                "invalid_grant",
                "a port privilege targets one network (network:ID=port:NAME)",
            );
        }
        (Target::Tag(_), _) => {}
        (Target::Network(id), access) => {
            let Some(def) = call.model.network(id).filter(|_| call.eff.is_visible(id)) else {
                return bad(
                    "unknown_network",
                    format!("there is no network '{id}' here"),
                );
            };
            if let NetworkAccess::Port(name) = access {
                if !def.ports.contains_key(name) {
                    let m = format!("network '{id}' defines no port privilege '{name}'");
                    return bad("unknown_port_privilege", m);
                }
            }
        }
    }
    authz::may_grant(&call.eff, &call.model, g).map_err(exceeds)
}

/// The parts of a mapping an audit entry records.
fn audit_state(r: &MappingResource) -> Value {
    json!({"name": r.name, "bundle": r.bundle, "selectors": r.selectors, "msp_role": r.msp_role, "msp_scope": r.msp_scope})
}

/// Rule 2: org read-only admins (and above) read mappings.
fn require_reader(call: &OrgCall) -> Result<()> {
    let m = "role mappings need org read-only access";
    (call.can("org", "org.view"))
        .then_some(())
        .ok_or_else(|| Error::forbidden("insufficient_privileges", m))
}

/// Stored scope (`"all"` or customer ids) -> API form (`"all"` or customer names);
/// customers deleted since drop out.
async fn scope_view(
    conn: &mut Conn,
    msp: &TenantId,
    stored: Option<&str>,
) -> Result<Option<Value>> {
    let Some(v) = stored.and_then(|s| serde_json::from_str::<Value>(s).ok()) else {
        return Ok(None);
    };
    let Some(ids) = v.as_array() else {
        return Ok(Some(v));
    };
    let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
    let found = rows::customers(conn, msp, "id", &ids).await?;
    Ok(Some(json!(found
        .into_iter()
        .map(|(_, name)| name)
        .collect::<Vec<_>>())))
}

/// Validate msp_role/msp_scope for `org`; returns them as stored (the scope as JSON:
/// `"all"` or customer ids, so a later customer of the same name is not covered).
async fn check_msp(
    conn: &mut Conn,
    org: &Tenant,
    role: Option<&str>,
    scope: Option<&Value>,
) -> Result<(Option<String>, Option<String>)> {
    let scope = scope.filter(|v| !v.is_null());
    let role = match (role, scope) {
        (None, None) => return Ok((None, None)),
        _ if org.kind != TenantKind::Msp => {
            let m = "msp_role and msp_scope exist only on an MSP's own tenant";
            return bad("msp_role_not_allowed", m);
        }
        (None, Some(_)) => {
            return bad("invalid_msp_scope", "msp_scope goes with an msp_role");
        }
        (Some(r), _) if authz::MSP_ROLES.contains(&r) => r,
        (Some(r), _) => {
            let m = format!("unknown MSP role '{r}': use one of {:?}", authz::MSP_ROLES);
            return bad("invalid_msp_role", m);
        }
    };
    let stored = match scope {
        None if role == "super-user" => json!("all"),
        Some(Value::String(s)) if s == "all" => json!("all"),
        Some(Value::Array(items)) if !items.is_empty() && role != "super-user" => {
            let names: BTreeSet<&str> = items.iter().map(|i| i.as_str().unwrap_or("")).collect();
            let names: Vec<&str> = names.into_iter().collect();
            let found = rows::customers(conn, &org.id, "name", &names).await?;
            if let Some(missing) = names.iter().find(|n| !found.iter().any(|(_, f)| f == *n)) {
                return bad(
                    "unknown_customer",
                    format!("{} has no customer '{missing}'", org.name),
                );
            }
            json!(found.into_iter().map(|(id, _)| id).collect::<BTreeSet<_>>())
        }
        _ => {
            let m = "msp_scope is \"all\" or a non-empty list of customer names (a super-user's is always \"all\")";
            return bad("invalid_msp_scope", m);
        }
    };
    Ok((Some(role.to_string()), Some(stored.to_string())))
}

/// Rule 5 for MSP roles: only an MSP super-user (by staff role, or by a mapping of the
/// MSP's own directory naming super-user), who holds every role everywhere, hands one out.
async fn require_super_user(conn: &mut Conn, call: &OrgCall) -> Result<()> {
    let (org, user) = (&call.org.id, &call.principal.user_id);
    if call.principal.home.id == *org
        && super::standing::Standing::load(conn, org, user)
            .await?
            .is_super_user()
    {
        return Ok(());
    }
    Err(exceeds(
        "only MSP super-users map directory roles to MSP roles",
    ))
}

async fn to_resource(
    conn: &mut Conn,
    org: &TenantId,
    row: rows::MappingRow,
    selectors: Vec<rows::SelectorRow>,
) -> Result<MappingResource> {
    let mut bundle = bundle_from_json(&row.bundle);
    bundle.org_access = Some(bundle.org_access.unwrap_or(OrgAccess::None));
    Ok(MappingResource {
        msp_scope: scope_view(conn, org, row.msp_scope.as_deref()).await?,
        bundle,
        selectors: selectors
            .into_iter()
            .map(|s| Selector {
                claim: (s.kind == "claim").then_some(s.claim),
                kind: s.kind,
                value: s.value,
            })
            .collect(),
        id: row.id,
        name: row.name,
        msp_role: row.msp_role,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    })
}

async fn mapping(
    conn: &mut Conn,
    org: &Tenant,
    id: &str,
) -> Result<(rows::MappingRow, MappingResource)> {
    let row = rows::get(conn, &org.id, id).await?.ok_or(Error::NotFound)?;
    let selectors = rows::selectors(conn, &org.id, Some(id)).await?;
    let resource = to_resource(conn, &org.id, row.clone(), selectors).await?;
    Ok((row, resource))
}

impl Core {
    /// GET /role-mappings, by name; `q` matches part of the name.
    pub async fn api_list_mappings(
        &self,
        call: &OrgCall,
        q: Option<&str>,
    ) -> Result<Vec<MappingResource>> {
        require_reader(call)?;
        let mut conn = self.store.conn().await?;
        let mut selectors: BTreeMap<String, Vec<rows::SelectorRow>> = BTreeMap::new();
        for s in rows::selectors(&mut conn, &call.org.id, None).await? {
            selectors.entry(s.mapping_id.clone()).or_default().push(s);
        }
        let q = q.map(str::to_lowercase);
        let mut out = Vec::new();
        for row in rows::list(&mut conn, &call.org.id).await? {
            if q.as_deref().is_some_and(|q| !row.name.contains(q)) {
                continue;
            }
            let sel = selectors.remove(&row.id).unwrap_or_default();
            out.push(to_resource(&mut conn, &call.org.id, row, sel).await?);
        }
        Ok(out)
    }

    pub async fn api_get_mapping(&self, call: &OrgCall, id: &str) -> Result<MappingResource> {
        require_reader(call)?;
        let mut conn = self.store.conn().await?;
        Ok(mapping(&mut conn, &call.org, id).await?.1)
    }

    /// POST /role-mappings: rules 1 and 5. `name` is required; the rest defaults to
    /// an empty bundle and no selectors.
    pub async fn api_create_mapping(
        &self,
        call: &OrgCall,
        new: MappingChange,
    ) -> Result<MappingResource> {
        call.require_org_full("manage role mappings")?;
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let id = MappingId::generate().to_string();
        let after = self.save_mapping(&mut tx, call, &id, None, new).await?;
        tx.commit().await.map_err(store::db)?;
        Ok(after)
    }

    /// PATCH /role-mappings/{id}: the fields given replace the current ones. `if_match`
    /// sees the mapping as it is inside the write transaction (the HTTP layer's If-Match).
    pub async fn api_update_mapping(
        &self,
        call: &OrgCall,
        id: &str,
        change: MappingChange,
        if_match: impl Fn(&MappingResource) -> Result<()>,
    ) -> Result<MappingResource> {
        require_reader(call)?;
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let current = mapping(&mut tx, &call.org, id).await?;
        if_match(&current.1)?;
        call.require_org_full("manage role mappings")?;
        let after = self
            .save_mapping(&mut tx, call, id, Some(current), change)
            .await?;
        tx.commit().await.map_err(store::db)?;
        Ok(after)
    }

    /// Validate and write a new (`current` None) or changed mapping, and audit it.
    async fn save_mapping(
        &self,
        tx: &mut Conn,
        call: &OrgCall,
        id: &str,
        current: Option<(rows::MappingRow, MappingResource)>,
        change: MappingChange,
    ) -> Result<MappingResource> {
        let now = self.clock.now();
        let old = current.as_ref().map(|(row, _)| row);
        let name = match (&change.name, old) {
            (Some(name), _) => validate_name(name)?,
            (None, Some(row)) => row.name.clone(),
            (None, None) => return bad("invalid_name", "a role mapping needs a name"),
        };
        let bundle = match (&change.bundle, old) {
            (Some(b), _) => bundle_to_json(&check_bundle(call, b)?),
            (None, Some(row)) => row.bundle.clone(),
            (None, None) => bundle_to_json(&Bundle::default()),
        };
        let selectors = change
            .selectors
            .as_deref()
            .map(clean_selectors)
            .transpose()?;
        let (old_role, old_scope) =
            old.map_or((None, None), |r| (r.msp_role.clone(), r.msp_scope.clone()));
        let (msp_role, msp_scope) = if change.msp_role.is_none() && change.msp_scope.is_none() {
            (old_role.clone(), old_scope.clone())
        } else {
            let role = change.msp_role.unwrap_or(old_role.clone());
            let scope = match change.msp_scope {
                Some(scope) => scope,
                // A role kept keeps its scope; a new role gets the default (super-user)
                // or asks for one; clearing the role clears both.
                None if role.is_some() && role == old_role => {
                    current.as_ref().and_then(|(_, r)| r.msp_scope.clone())
                }
                None => None,
            };
            check_msp(tx, &call.org, role.as_deref(), scope.as_ref()).await?
        };
        if msp_role.is_some() && (msp_role != old_role || msp_scope != old_scope) {
            require_super_user(tx, call).await?;
        }
        if let Some(b) = &change.bundle {
            check_grants(tx, &call.org, &b.grants).await?;
        }
        let created_at = old.map_or(now, |r| r.created_at);
        let row = rows::MappingRow {
            id: id.to_string(),
            name,
            bundle,
            msp_role,
            msp_scope,
            created_at,
            updated_at: now,
        };
        match &current {
            None => rows::insert(tx, &call.org.id, &row).await?,
            Some(_) if rows::update(tx, &call.org.id, &row).await? => {}
            Some(_) => return Err(Error::NotFound),
        }
        if let Some(selectors) = &selectors {
            rows::clear_selectors(tx, &call.org.id, id).await?;
            for s in selectors {
                let claim = s.claim.as_deref().unwrap_or_default();
                rows::insert_selector(tx, &call.org.id, id, &s.kind, claim, &s.value).await?;
            }
        }
        let after = mapping(tx, &call.org, id).await?.1;
        let action = match current {
            None => "role_mapping.create",
            Some(_) => "role_mapping.update",
        };
        let change = Change {
            action,
            target: format!("role_mapping:{id}"),
            before: current.map(|(_, b)| audit_state(&b)),
            after: Some(audit_state(&after)),
        };
        self.audit_mapping(tx, call, change).await?;
        Ok(after)
    }

    /// DELETE /role-mappings/{id}: org full; the users it selected lose it at once.
    pub async fn api_delete_mapping(
        &self,
        call: &OrgCall,
        id: &str,
        if_match: impl Fn(&MappingResource) -> Result<()>,
    ) -> Result<()> {
        require_reader(call)?;
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let (_, before) = mapping(&mut tx, &call.org, id).await?;
        if_match(&before)?;
        call.require_org_full("manage role mappings")?;
        let mut state = audit_state(&before);
        state["holders"] = json!(rows::holders(&mut tx, &call.org.id, id).await?);
        rows::delete(&mut tx, &call.org.id, id).await?;
        let change = Change {
            action: "role_mapping.delete",
            target: format!("role_mapping:{id}"),
            before: Some(state),
            after: None,
        };
        self.audit_mapping(&mut tx, call, change).await?;
        tx.commit().await.map_err(store::db)
    }

    async fn audit_mapping(
        &self,
        conn: &mut Conn,
        call: &OrgCall,
        change: Change<'_>,
    ) -> Result<()> {
        let (actor, rid) = (call.actor(), call.request_id.as_deref());
        let now = self.clock.now();
        audit::append(&self.keys, conn, &call.org.id, &actor, change, now, rid).await?;
        Ok(())
    }

    /// The tenant's mappings whose selectors match these groups (id, display name) or
    /// claims (name, value), by name. Read-only.
    pub async fn mappings_for_selectors(
        &self,
        tenant: &Tenant,
        groups: &[(String, String)],
        claims: &[(String, String)],
    ) -> Result<Vec<SelectedMapping>> {
        let mut conn = self.store.conn().await?;
        let found = rows::selected(&mut conn, &tenant.id, groups, claims).await?;
        Ok(found
            .into_iter()
            .map(|(id, name)| SelectedMapping { name, id })
            .collect())
    }

    /// Record which mappings now select `user_id` through `source`: that source's rows of
    /// `user_mapped_roles` are replaced in one transaction (rows of other sources stay),
    /// audited as `user.roles_mapped` when the set changed. Returns the names of the
    /// mappings these groups and claims select.
    ///
    /// One row per user and mapping: a mapping already held through another source is not
    /// recorded again, and if that source later drops it, it is gone until this source
    /// assigns again (the next SCIM sync or sign-in).
    pub async fn assign_mapped_roles(
        &self,
        tenant: &Tenant,
        user_id: &str,
        source: MappingSource,
        groups: &[(String, String)],
        claims: &[(String, String)],
    ) -> Result<Vec<String>> {
        let (now, src) = (self.clock.now(), source.as_str());
        let names = |w: Vec<(String, String)>| w.into_iter().map(|(_, name)| name).collect();
        // Most syncs and sign-ins change nothing: look before taking the write lock.
        {
            let mut conn = self.store.conn().await?;
            if store::users::user_by_id(&mut conn, &tenant.id, user_id)
                .await?
                .is_none()
            {
                return Err(Error::NotFound);
            }
            let wanted = rows::selected(&mut conn, &tenant.id, groups, claims).await?;
            let change =
                rows::replace_source_rows(&mut conn, &tenant.id, user_id, src, &wanted, now, false);
            if change.await?.is_none() {
                return Ok(names(wanted));
            }
        }
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await?
            || store::users::user_by_id(&mut tx, &tenant.id, user_id)
                .await?
                .is_none()
        {
            return Err(Error::NotFound);
        }
        let wanted = rows::selected(&mut tx, &tenant.id, groups, claims).await?;
        let change =
            rows::replace_source_rows(&mut tx, &tenant.id, user_id, src, &wanted, now, true);
        if let Some((before, after)) = change.await? {
            let actor = Actor {
                id: src.to_string(),
                msp: None,
                msp_user: None,
            };
            let change = Change {
                action: "user.roles_mapped",
                target: format!("user:{user_id}"),
                before: Some(json!({"source": src, "mappings": before})),
                after: Some(json!({"source": src, "mappings": after})),
            };
            audit::append(&self.keys, &mut tx, &tenant.id, &actor, change, now, None).await?;
        }
        tx.commit().await.map_err(store::db)?;
        Ok(names(wanted))
    }
}
