//! Where an admin's privileges in one organization come from (privileges.md "Where grants
//! come from"): the own account, the MSP role, delegations and mapped directory roles.
//! `active_bundles` turns them into the bundles that count at a given time.
//!
//! PURE: no clock; `now` is unix seconds passed in by the caller.

use super::{Grant, NetworkAccess, OrgAccess, Target};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The only org side role privileges.md defines.
pub const HELPDESK: &str = "helpdesk";

/// Org access plus network grants plus org side roles, as stored for an own account or a
/// role mapping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bundle {
    /// `None` counts as org access `none`.
    pub org_access: Option<OrgAccess>,
    /// Org side roles, e.g. `helpdesk`; names the engine does not know carry nothing.
    pub org_roles: Vec<String>,
    pub grants: Vec<Grant>,
}

/// The admin's MSP staff role, when the admin belongs to the MSP managing the organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MspRoleInput {
    /// One of `MSP_ROLES`; any other name carries nothing.
    pub role: String,
    /// Whether the admin belongs to the MSP managing this organization and the role's
    /// scope covers it. The caller decides; for a super-user that is every customer of
    /// their MSP. The engine honours `false` for every role, super-user included.
    pub in_scope: bool,
}

/// A delegation of the MSP user to this organization.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DelegationInput {
    pub id: String,
    pub org_access: Option<OrgAccess>,
    pub grants: Vec<Grant>,
    /// Unix seconds; the delegation is expired when `now >= expires_at`.
    pub expires_at: Option<i64>,
    pub approved: bool,
}

/// A role mapped from the enterprise directory (SCIM group, SAML/OIDC role claim).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappedRole {
    pub name: String,
    pub bundle: Bundle,
}

/// Everything that may give one admin privileges in one organization.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminInput {
    pub own: Option<Bundle>,
    pub msp_role: Option<MspRoleInput>,
    pub delegations: Vec<DelegationInput>,
    pub mapped_roles: Vec<MappedRole>,
}

/// Where a privilege came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Own,
    MspRole { role: String },
    Delegation { id: String },
    MappedRole { name: String },
}

/// `own account`, `MSP role helpdesk`, `delegation d-1`, `mapped role netadmins`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SourceRef::from(self).fmt(f)
    }
}

/// A borrowed `Source`, so evaluating privileges allocates no names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceRef<'a> {
    Own,
    MspRole(&'a str),
    Delegation(&'a str),
    MappedRole(&'a str),
}

impl<'a> From<&'a Source> for SourceRef<'a> {
    fn from(s: &'a Source) -> Self {
        match s {
            Source::Own => SourceRef::Own,
            Source::MspRole { role } => SourceRef::MspRole(role),
            Source::Delegation { id } => SourceRef::Delegation(id),
            Source::MappedRole { name } => SourceRef::MappedRole(name),
        }
    }
}

impl SourceRef<'_> {
    pub(crate) fn to_source(self) -> Source {
        match self {
            SourceRef::Own => Source::Own,
            SourceRef::MspRole(role) => Source::MspRole { role: role.into() },
            SourceRef::Delegation(id) => Source::Delegation { id: id.into() },
            SourceRef::MappedRole(name) => Source::MappedRole { name: name.into() },
        }
    }
}

impl fmt::Display for SourceRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceRef::Own => f.write_str("own account"),
            SourceRef::MspRole(role) => write!(f, "MSP role {role}"),
            SourceRef::Delegation(id) => write!(f, "delegation {id}"),
            SourceRef::MappedRole(name) => write!(f, "mapped role {name}"),
        }
    }
}

/// One bundle that counts now, normalized: org access resolved, org roles reduced to the
/// ones the engine knows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Active<'a> {
    pub source: SourceRef<'a>,
    pub org_access: OrgAccess,
    pub helpdesk: bool,
    pub grants: &'a [Grant],
}

static ALL_FULL: [Grant; 1] = [Grant {
    target: Target::All,
    access: NetworkAccess::Full,
}];
static ALL_MONITOR_ONLY: [Grant; 1] = [Grant {
    target: Target::All,
    access: NetworkAccess::MonitorOnly,
}];
static ALL_INSTALLER: [Grant; 1] = [Grant {
    target: Target::All,
    access: NetworkAccess::Installer,
}];

/// The MSP role table of privileges.md: (org access, org role helpdesk, network grants).
fn msp_bundle(role: &str) -> Option<(OrgAccess, bool, &'static [Grant])> {
    Some(match role {
        "super-user" => (OrgAccess::Full, false, &[]),
        "network-admin" => (OrgAccess::ReadOnly, false, &ALL_FULL),
        "observer" => (OrgAccess::ReadOnly, false, &[]),
        "helpdesk" => (OrgAccess::None, true, &ALL_MONITOR_ONLY),
        "installer" => (OrgAccess::None, false, &ALL_INSTALLER),
        _ => return None,
    })
}

/// The MSP role table of privileges.md as a plain bundle, for a role mapping of an MSP's
/// own tenant that names an MSP role: its holders get this bundle, as that mapped role, in
/// every customer the mapping's scope covers. `None` for a name that is not an MSP role.
pub fn msp_role_bundle(role: &str) -> Option<Bundle> {
    let (org_access, helpdesk, grants) = msp_bundle(role)?;
    Some(Bundle {
        org_access: Some(org_access),
        org_roles: if helpdesk {
            vec![HELPDESK.to_string()]
        } else {
            Vec::new()
        },
        grants: grants.to_vec(),
    })
}

fn bundle<'a>(source: SourceRef<'a>, b: &'a Bundle) -> Active<'a> {
    Active {
        source,
        org_access: b.org_access.unwrap_or(OrgAccess::None),
        helpdesk: b.org_roles.iter().any(|r| r == HELPDESK),
        grants: &b.grants,
    }
}

/// Whether a delegation counts at `now`: approved and not expired.
pub fn delegation_active(d: &DelegationInput, now: i64) -> bool {
    d.approved && d.expires_at.is_none_or(|at| now < at)
}

/// The bundles that count at `now`, in a fixed order: own account, MSP role, delegations,
/// mapped roles. Order never changes the result; it only orders explanations.
pub(crate) fn active_bundles(
    admin: &AdminInput,
    now: i64,
) -> impl Iterator<Item = Active<'_>> + Clone {
    let own = admin.own.iter().map(|b| bundle(SourceRef::Own, b));
    let msp = admin.msp_role.iter().filter_map(|m| {
        let (org_access, helpdesk, grants) = msp_bundle(&m.role)?;
        // `in_scope` is the caller's answer to "does this admin's MSP manage the org and
        // does the role's scope cover it"; for a super-user the scope is every customer, so
        // false means another MSP's customer (privilege-cases.json: out of scope gives
        // nothing, even to a super-user).
        m.in_scope.then_some(Active {
            source: SourceRef::MspRole(&m.role),
            org_access,
            helpdesk,
            grants,
        })
    });
    let delegations = admin
        .delegations
        .iter()
        .filter(move |d| delegation_active(d, now))
        .map(|d| Active {
            source: SourceRef::Delegation(&d.id),
            // No bundle at all makes the technician an org admin; a bundle without org
            // access means `none`.
            org_access: match (d.org_access, d.grants.is_empty()) {
                (Some(access), _) => access,
                (None, true) => OrgAccess::Full,
                (None, false) => OrgAccess::None,
            },
            helpdesk: false,
            grants: &d.grants,
        });
    let mapped = admin
        .mapped_roles
        .iter()
        .map(|m| bundle(SourceRef::MappedRole(&m.name), &m.bundle));
    own.chain(msp).chain(delegations).chain(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_msp_role_has_a_bundle() {
        for role in super::super::MSP_ROLES {
            assert!(msp_bundle(role).is_some(), "{role}");
        }
        assert!(msp_bundle("technician").is_none());
    }

    #[test]
    fn a_mapped_msp_role_gives_what_the_role_gives() {
        for role in super::super::MSP_ROLES {
            let Some(b) = msp_role_bundle(role) else {
                assert!(msp_bundle(role).is_none(), "{role}");
                continue;
            };
            let as_role = AdminInput {
                msp_role: Some(MspRoleInput {
                    role: role.to_string(),
                    in_scope: true,
                }),
                ..Default::default()
            };
            let as_mapping = AdminInput {
                mapped_roles: vec![MappedRole {
                    name: "staff".into(),
                    bundle: b,
                }],
                ..Default::default()
            };
            let norm = |a: &AdminInput| {
                active_bundles(a, 0)
                    .map(|x| (x.org_access, x.helpdesk, x.grants.to_vec()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(norm(&as_role), norm(&as_mapping), "{role}");
        }
        assert!(msp_role_bundle("technician").is_none());
    }

    #[test]
    fn delegation_expiry_is_exclusive() {
        let mut d = DelegationInput {
            approved: true,
            expires_at: Some(100),
            ..Default::default()
        };
        assert!(delegation_active(&d, 99));
        assert!(!delegation_active(&d, 100));
        d.expires_at = None;
        assert!(delegation_active(&d, i64::MAX));
        d.approved = false;
        assert!(!delegation_active(&d, 0));
    }

    #[test]
    fn sources_read_well() {
        assert_eq!(Source::Own.to_string(), "own account");
        let s = Source::MappedRole {
            name: "netadmins".into(),
        };
        assert_eq!(s.to_string(), "mapped role netadmins");
        assert_eq!(
            serde_json::to_value(&s).ok(),
            Some(serde_json::json!({"kind": "mapped_role", "name": "netadmins"}))
        );
    }
}
