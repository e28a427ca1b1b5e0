//! Loading what the pure engine (crate::authz) needs, and the org a path may name
//! (security.md "Who may call what"). The portal and the admin API read privileges from
//! the database on every request, never from token claims.

use super::{Core, Error, Result};
use crate::authz::{
    self, AdminInput, Bundle, DelegationInput, Effective, MappedRole, MspRoleInput, NetworkDef,
    OrgAccess, OrgModel, PortPrivilegeDef,
};
use crate::ids::TenantId;
use crate::store::{
    mappings as map_rows, networks as net_rows, privileges as rows, users as user_rows, Conn,
};
use crate::tenancy::{Tenant, TenantKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A signed-in admin: a user of `home` (the tenant whose host the credential belongs to).
#[derive(Debug, Clone)]
pub struct Principal {
    pub home: Arc<Tenant>,
    pub user_id: String,
    pub email: String,
    /// The API key the call came with, if any.
    pub api_key_id: Option<String>,
}

impl Principal {
    /// The audit actor for an action in `org`: MSP staff acting in a customer are recorded
    /// with their MSP and MSP user.
    pub fn actor_in(&self, org: &Tenant) -> super::audit::Actor {
        if org.id != self.home.id && self.home.kind == TenantKind::Msp {
            super::audit::Actor {
                id: self.user_id.clone(),
                msp: Some(self.home.name.clone()),
                msp_user: Some(self.email.clone()),
            }
        } else {
            super::audit::Actor {
                id: self.user_id.clone(),
                msp: None,
                msp_user: None,
            }
        }
    }
}

/// Bundles are stored as JSON (`authz::Bundle`'s serde form).
pub fn bundle_from_json(text: &str) -> Bundle {
    serde_json::from_str(text).unwrap_or_default()
}

pub fn bundle_to_json(bundle: &Bundle) -> String {
    serde_json::to_string(bundle).unwrap_or_else(|_| "{}".into())
}

/// The org access and grants of a membership row.
pub async fn own_bundle(
    conn: &mut Conn,
    tenant: &TenantId,
    m: &rows::MembershipRow,
) -> Result<Bundle> {
    let grants = user_rows::grants_of(conn, tenant, &m.id)
        .await?
        .into_iter()
        .filter_map(|(target, access)| authz::Grant::parse(&format!("{target}={access}")))
        .collect();
    Ok(Bundle {
        org_access: OrgAccess::parse(&m.org_access),
        org_roles: serde_json::from_str(&m.org_roles).unwrap_or_default(),
        grants,
    })
}

impl Core {
    /// The organization that `/api/v1/orgs/{org}` names on `host`: the host itself, or on
    /// an MSP host one of its customers. Anything else is "not found".
    pub async fn resolve_org(&self, host: &Arc<Tenant>, org_name: &str) -> Result<Arc<Tenant>> {
        if org_name == host.name {
            return Ok(host.clone());
        }
        if host.kind != TenantKind::Msp {
            return Err(Error::NotFound);
        }
        match self.tenants.by_name(org_name).await? {
            Some(t) if t.msp_id.as_ref() == Some(&host.id) => Ok(t),
            _ => Err(Error::NotFound),
        }
    }

    /// Networks with tags and port privileges.
    pub async fn org_model(&self, conn: &mut Conn, org: &Tenant) -> Result<OrgModel> {
        let mut networks: BTreeMap<String, NetworkDef> = net_rows::list(conn, &org.id)
            .await?
            .into_iter()
            .map(|n| (n.id, NetworkDef::default()))
            .collect();
        for (network, tag) in net_rows::all_tags(conn, &org.id).await? {
            if let Some(n) = networks.get_mut(&network) {
                n.tags.push(tag);
            }
        }
        for (network, name, capture) in rows::port_privileges(conn, &org.id).await? {
            if let Some(n) = networks.get_mut(&network) {
                n.ports.insert(
                    name,
                    PortPrivilegeDef {
                        capture: capture != 0,
                    },
                );
            }
        }
        Ok(OrgModel::new(networks))
    }

    /// Every source of privileges of user `user_id` of tenant `home` in `org`.
    pub async fn admin_input(
        &self,
        conn: &mut Conn,
        org: &Tenant,
        home: &TenantId,
        user_id: &str,
    ) -> Result<AdminInput> {
        let mut input = AdminInput::default();
        if *home == org.id {
            if let Some(m) = rows::membership_of_user(conn, &org.id, user_id).await? {
                input.own = Some(own_bundle(conn, &org.id, &m).await?);
            }
            input.mapped_roles = rows::mapped_roles_of_user(conn, &org.id, user_id)
                .await?
                .into_iter()
                .map(|(_, name, bundle)| MappedRole {
                    name,
                    bundle: bundle_from_json(&bundle),
                })
                .collect();
            // A mapping of the MSP's own tenant naming the super-user role makes its
            // holders super-users there too: org full in the MSP itself.
            if org.kind == TenantKind::Msp {
                for (name, role, _) in map_rows::msp_roles_of_user(conn, &org.id, user_id).await? {
                    if role != "super-user" {
                        continue;
                    }
                    if let Some(m) = input.mapped_roles.iter_mut().find(|m| m.name == name) {
                        m.bundle.org_access = Some(OrgAccess::Full);
                    }
                }
            }
            // Inside the MSP itself, super-users hold org full (decisions.md, Foundation).
            if org.kind == TenantKind::Msp {
                if let Some(s) = rows::staff_role(conn, &org.id, user_id).await? {
                    if s.role == "super-user" {
                        input.msp_role = Some(MspRoleInput {
                            role: s.role,
                            in_scope: true,
                        });
                    }
                }
            }
        } else if org.msp_id.as_ref() == Some(home) {
            if let Some(s) = rows::staff_role(conn, home, user_id).await? {
                let in_scope = s.scope_all != 0
                    || s.role == "super-user"
                    || rows::staff_scope_contains(conn, home, user_id, &org.id).await?;
                input.msp_role = Some(MspRoleInput {
                    role: s.role,
                    in_scope,
                });
            }
            // MSP staff from the MSP's own directory (SCIM groups, federation claims):
            // each mapping naming an MSP role whose scope covers this customer counts as
            // that role, explained as the mapped role.
            for (name, role, scope) in map_rows::msp_roles_of_user(conn, home, user_id).await? {
                if !msp_scope_covers(&role, scope.as_deref(), &org.id) {
                    continue;
                }
                if let Some(bundle) = authz::sources::msp_role_bundle(&role) {
                    input.mapped_roles.push(MappedRole { name, bundle });
                }
            }
            input.delegations = rows::delegations_of(conn, &org.id, user_id)
                .await?
                .into_iter()
                .map(|d| {
                    let b = bundle_from_json(&d.bundle);
                    DelegationInput {
                        id: d.id,
                        org_access: b.org_access,
                        grants: b.grants,
                        expires_at: d.expires_at,
                        approved: d.state == "approved",
                    }
                })
                .collect();
        }
        Ok(input)
    }

    /// The caller's model and effective privileges in `org`. An MSP caller naming a
    /// customer in which it holds nothing gets "not found".
    pub async fn caller_privileges(
        &self,
        principal: &Principal,
        org: &Tenant,
    ) -> Result<(OrgModel, AdminInput, Effective)> {
        let mut conn = self.store.conn().await?;
        let model = self.org_model(&mut conn, org).await?;
        let input = self
            .admin_input(&mut conn, org, &principal.home.id, &principal.user_id)
            .await?;
        let eff = authz::effective(&model, &input, self.clock.now());
        if org.id != principal.home.id && holds_nothing(&eff) {
            return Err(Error::NotFound);
        }
        Ok((model, input, eff))
    }
}

/// Whether a role mapping's MSP scope (`"all"` or a JSON list of customer tenant ids)
/// covers `customer`; a super-user's covers every customer of the MSP.
pub fn msp_scope_covers(role: &str, scope: Option<&str>, customer: &TenantId) -> bool {
    super::standing::Standing {
        grants: vec![super::standing::StaffGrant {
            role: role.to_string(),
            scope: super::standing::parse_scope(scope),
            via: None,
        }],
    }
    .reaches(customer.as_str())
}

/// No org access, no org role, no visible network.
pub fn holds_nothing(eff: &Effective) -> bool {
    eff.org_access == OrgAccess::None && eff.org_roles.is_empty() && eff.networks.is_empty()
}
