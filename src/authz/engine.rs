//! Effective privileges: privileges.md "Combining". The union of every bundle that counts
//! now; the highest org access wins; per network the highest chain level plus the side
//! roles, `full` absorbing the side roles in the listing (never in capabilities).
//!
//! Work is done in two flat arrays indexed by network position (chain level, side-role
//! bits), so a grant costs a tag-index lookup plus one byte write per covered network;
//! strings are built only for the final listing.
//!
//! PURE: no async, no I/O, no clock.

use super::capabilities::{
    access_capabilities, access_carries, org_access_capabilities, org_access_carries,
    org_role_capabilities, org_role_carries, port_defined, AccessRef, Chain, ORG_SCOPE,
};
use super::model::OrgModel;
use super::sources::{active_bundles, AdminInput, HELPDESK};
use super::{Grant, OrgAccess, Target};
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

const GUEST_AMBASSADOR: u8 = 1;
const INSTALLER: u8 = 2;

/// Computes the effective privileges of `admin` in `org` at `now` (unix seconds).
pub fn effective(org: &OrgModel, admin: &AdminInput, now: i64) -> Effective {
    let bundles = active_bundles(admin, now);
    let mut org_access = OrgAccess::None;
    let mut helpdesk = false;
    for b in bundles.clone() {
        org_access = org_access.max(b.org_access);
        helpdesk |= b.helpdesk;
    }
    let org_roles = if helpdesk && org_access != OrgAccess::Full {
        vec![HELPDESK.to_string()]
    } else {
        Vec::new()
    };
    let networks = if org_access == OrgAccess::Full {
        // Org full is full everywhere and absorbs every side role: no grant can add to it.
        org.network_ids()
            .map(|id| (id.clone(), vec![Chain::Full.as_str().to_string()]))
            .collect()
    } else {
        let mut work = Work::new(org, Chain::from_org(org_access));
        for b in bundles {
            for grant in b.grants {
                work.apply(org, grant);
            }
        }
        work.listing(org)
    };
    Effective {
        org_access,
        org_roles,
        networks,
    }
}

/// Per-network accumulation, indexed by network position.
struct Work<'a> {
    chain: Vec<u8>,
    side: Vec<u8>,
    /// (network position, port privilege name) of honoured port grants.
    ports: Vec<(usize, &'a str)>,
}

impl<'a> Work<'a> {
    fn new(org: &OrgModel, base: Option<Chain>) -> Self {
        let n = org.len();
        Work {
            chain: vec![base.map_or(0, |c| c as u8); n],
            side: vec![0; n],
            ports: Vec::new(),
        }
    }

    fn apply(&mut self, org: &OrgModel, grant: &'a Grant) {
        match AccessRef::of(&grant.access) {
            AccessRef::Chain(level) => {
                let level = level as u8;
                each_covered(org, &grant.target, &mut self.chain, |c| {
                    *c = (*c).max(level)
                });
            }
            AccessRef::GuestAmbassador => {
                each_covered(org, &grant.target, &mut self.side, |s| {
                    *s |= GUEST_AMBASSADOR
                });
            }
            AccessRef::Installer => {
                each_covered(org, &grant.target, &mut self.side, |s| *s |= INSTALLER);
            }
            AccessRef::Port(name) => {
                // Only `network:ID` naming a network that defines the privilege counts;
                // anything else is ignored (privileges.md "Levels").
                if let Target::Network(id) = &grant.target {
                    if let Some(pos) = org.position(id) {
                        if port_defined(org.at(pos).map(|(_, def)| def), name) {
                            self.ports.push((pos, name));
                        }
                    }
                }
            }
        }
    }

    fn listing(mut self, org: &OrgModel) -> BTreeMap<String, Vec<String>> {
        self.ports.sort_unstable();
        self.ports.dedup();
        let mut ports = self.ports.as_slice();
        let mut out = Vec::new();
        for (pos, (id, (&chain, &side))) in org
            .network_ids()
            .zip(self.chain.iter().zip(&self.side))
            .enumerate()
        {
            let split = ports.iter().take_while(|(p, _)| *p == pos).count();
            let (here, rest) = ports.split_at(split);
            ports = rest;
            let level = Chain::from_level(chain);
            if level == Some(Chain::Full) {
                out.push((id.clone(), vec![Chain::Full.as_str().to_string()]));
                continue;
            }
            if level.is_none() && side == 0 && here.is_empty() {
                continue;
            }
            // Built in byte order: guest-ambassador < installer < monitor-only < port:*
            // < read-only (a test checks the listing is sorted).
            let mut accesses = Vec::with_capacity(1 + here.len());
            if side & GUEST_AMBASSADOR != 0 {
                accesses.push("guest-ambassador".to_string());
            }
            if side & INSTALLER != 0 {
                accesses.push("installer".to_string());
            }
            if level == Some(Chain::MonitorOnly) {
                accesses.push(Chain::MonitorOnly.as_str().to_string());
            }
            accesses.extend(here.iter().map(|(_, name)| format!("port:{name}")));
            if level == Some(Chain::ReadOnly) {
                accesses.push(Chain::ReadOnly.as_str().to_string());
            }
            out.push((id.clone(), accesses));
        }
        // Already in key order, so the map is built in bulk.
        out.into_iter().collect()
    }
}

/// Runs `f` on the slot of every network `target` covers.
fn each_covered(org: &OrgModel, target: &Target, slots: &mut [u8], mut f: impl FnMut(&mut u8)) {
    match target {
        Target::All => slots.iter_mut().for_each(f),
        Target::Tag(tag) => {
            for &pos in org.tagged(tag) {
                if let Some(slot) = slots.get_mut(pos) {
                    f(slot);
                }
            }
        }
        Target::Network(id) => {
            if let Some(slot) = org.position(id).and_then(|pos| slots.get_mut(pos)) {
                f(slot);
            }
        }
    }
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
    use crate::authz::NetworkAccess;

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
