//! Effective privileges: privileges.md "Combining". The union of every bundle that counts
//! now; the highest org access wins; per network the highest chain level plus the side
//! roles, `full` absorbing the side roles in the listing (never in capabilities).
//!
//! The combining itself happens in `compact`; this is the listing form that is serialized
//! and compared (privilege-cases.json), with checks that parse the listing back.
//!
//! PURE: no async, no I/O, no clock.

use super::capabilities::{
    access_capabilities, access_carries, org_access_capabilities, org_access_carries,
    org_role_capabilities, org_role_carries, AccessRef, Chain, ORG_SCOPE,
};
use super::compact::privileges;
use super::model::OrgModel;
use super::sources::AdminInput;
use super::{OrgAccess, Target};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An admin's effective privileges in one organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub org_access: OrgAccess,
    /// Org side roles (`helpdesk`), sorted; empty when org access is `full`.
    pub org_roles: Vec<String>,
    /// Visible network id -> accesses sorted by byte order; hidden networks are absent.
    pub networks: BTreeMap<String, Vec<String>>,
}

/// Computes the effective privileges of `admin` in `org` at `now` (unix seconds), in
/// listing form. For checks alone, `privileges` answers the same without the strings.
pub fn effective(org: &OrgModel, admin: &AdminInput, now: i64) -> Effective {
    privileges(org, admin, now).to_effective()
}

/// Whether `target` covers the network `id` (defined by `def`).
pub(crate) fn covers(target: &Target, id: &str, tags: &[String]) -> bool {
    match target {
        Target::All => true,
        Target::Tag(tag) => tags.iter().any(|t| t == tag),
        Target::Network(target_id) => target_id == id,
    }
}

impl Effective {
    /// Whether the admin holds `capability` in `scope` (`org` or a network id). A hidden or
    /// unknown network holds nothing. `org` always names the organization scope.
    pub fn can(&self, org: &OrgModel, scope: &str, capability: &str) -> bool {
        if scope == ORG_SCOPE {
            return org_access_carries(self.org_access, capability)
                || self
                    .org_roles
                    .iter()
                    .any(|role| org_role_carries(role, capability));
        }
        let Some(accesses) = self.networks.get(scope) else {
            return false;
        };
        let def = org.network(scope);
        accesses
            .iter()
            .filter_map(|a| AccessRef::parse(a))
            .any(|a| access_carries(a, def, capability))
    }

    /// Every capability the admin holds in `scope`; empty for a hidden or unknown network.
    pub fn capabilities(&self, org: &OrgModel, scope: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if scope == ORG_SCOPE {
            org_access_capabilities(self.org_access, &mut out);
            for role in &self.org_roles {
                org_role_capabilities(role, &mut out);
            }
        } else if let Some(accesses) = self.networks.get(scope) {
            let def = org.network(scope);
            for a in accesses.iter().filter_map(|a| AccessRef::parse(a)) {
                access_capabilities(a, def, &mut out);
            }
        }
        out
    }

    pub fn is_visible(&self, network_id: &str) -> bool {
        self.networks.contains_key(network_id)
    }

    /// The chain level held on a network (`None` when hidden or side roles only).
    pub fn chain_level(&self, network_id: &str) -> Option<&'static str> {
        self.chain(network_id).map(Chain::as_str)
    }

    pub(crate) fn chain(&self, network_id: &str) -> Option<Chain> {
        self.networks
            .get(network_id)?
            .iter()
            .filter_map(|a| match AccessRef::parse(a) {
                Some(AccessRef::Chain(c)) => Some(c),
                _ => None,
            })
            .max()
    }

    /// Whether the listing of a network has exactly `access` (`full`, `installer`, ...).
    pub(crate) fn lists(&self, network_id: &str, access: &str) -> bool {
        self.networks
            .get(network_id)
            .is_some_and(|list| list.iter().any(|a| a == access))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::model::{NetworkDef, PortPrivilegeDef};
    use crate::authz::sources::Bundle;
    use crate::authz::{Grant, NetworkAccess};

    fn grant(target: &str, access: &str) -> Grant {
        Grant {
            target: Target::parse(target).unwrap(),
            access: NetworkAccess::parse(access).unwrap(),
        }
    }

    #[test]
    fn listing_is_byte_ordered() {
        let def = NetworkDef {
            tags: vec!["t".into()],
            ports: BTreeMap::from([
                ("a".to_string(), PortPrivilegeDef { capture: false }),
                ("b".to_string(), PortPrivilegeDef { capture: true }),
            ]),
        };
        let org = OrgModel::new(BTreeMap::from([("n1".to_string(), def)]));
        for chain in ["monitor-only", "read-only"] {
            let admin = AdminInput {
                own: Some(Bundle {
                    grants: vec![
                        grant("network:n1", "port:b"),
                        grant("network:n1", "port:a"),
                        grant("network:n1", "port:a"),
                        grant("tag:t", "installer"),
                        grant("network:n1", "guest-ambassador"),
                        grant("network:n1", chain),
                        // ignored: wrong target / undefined privilege
                        grant("tag:t", "port:a"),
                        grant("network:n1", "port:zz"),
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            };
            let eff = effective(&org, &admin, 0);
            let list = &eff.networks["n1"];
            let mut sorted = list.clone();
            sorted.sort();
            assert_eq!(list, &sorted);
            assert_eq!(list.len(), 5, "{list:?}");
        }
    }

    #[test]
    fn unknown_targets_and_roles_are_ignored() {
        let org = OrgModel::new(BTreeMap::from([("n1".to_string(), NetworkDef::default())]));
        let admin = AdminInput {
            own: Some(Bundle {
                org_roles: vec!["owner".into()],
                grants: vec![grant("network:n9", "full"), grant("tag:none", "full")],
                ..Default::default()
            }),
            ..Default::default()
        };
        let eff = effective(&org, &admin, 0);
        assert!(eff.networks.is_empty());
        assert!(eff.org_roles.is_empty());
        assert_eq!(eff.chain_level("n1"), None);
    }
}
