//! Effective privileges in compact form: privileges.md "Combining" evaluated into flat
//! per-network arrays (chain level, side-role bits) indexed by network position, plus the
//! few honoured port grants. Building one costs two byte arrays and a tag-index lookup per
//! grant; `can` costs a binary search. `Effective` (the listing with strings) is rendered
//! from it; request-path checks can use `Privileges` directly and skip the strings.
//!
//! PURE: no async, no I/O, no clock.

use super::capabilities::{
    access_capabilities, access_carries, org_access_capabilities, org_access_carries,
    org_role_capabilities, org_role_carries, AccessRef, Chain, ORG_SCOPE,
};
use super::engine::Effective;
use super::model::OrgModel;
use super::sources::{active_bundles, AdminInput, HELPDESK};
use super::{Grant, OrgAccess, Target};
use std::collections::BTreeSet;

const GUEST_AMBASSADOR: u8 = 1;
const INSTALLER: u8 = 2;

/// An admin's effective privileges in one organization, bound to that organization.
#[derive(Clone, Debug)]
pub struct Privileges<'a> {
    org: &'a OrgModel,
    org_access: OrgAccess,
    /// Org role helpdesk, already dropped under org `full`.
    helpdesk: bool,
    /// Chain level by network position (0 = none); empty under org `full`, which is
    /// `full` everywhere and absorbs everything else.
    chain: Vec<u8>,
    /// Side-role bits by network position; empty under org `full`.
    side: Vec<u8>,
    /// (network position, port privilege name as the network defines it) of honoured port
    /// grants, sorted, without duplicates.
    ports: Vec<(usize, &'a str)>,
}

/// Computes the effective privileges of `admin` in `org` at `now` (unix seconds).
pub fn privileges<'a>(org: &'a OrgModel, admin: &AdminInput, now: i64) -> Privileges<'a> {
    let bundles = active_bundles(admin, now);
    let mut org_access = OrgAccess::None;
    let mut helpdesk = false;
    for b in bundles.clone() {
        org_access = org_access.max(b.org_access);
        helpdesk |= b.helpdesk;
    }
    let mut p = Privileges {
        org,
        org_access,
        helpdesk: helpdesk && org_access != OrgAccess::Full,
        chain: Vec::new(),
        side: Vec::new(),
        ports: Vec::new(),
    };
    if org_access != OrgAccess::Full {
        let base = Chain::from_org(org_access).map_or(0, |c| c as u8);
        p.chain = vec![base; org.len()];
        p.side = vec![0; org.len()];
        for b in bundles {
            for grant in b.grants {
                p.apply(grant);
            }
        }
        p.ports.sort_unstable();
        p.ports.dedup();
    }
    p
}

impl<'a> Privileges<'a> {
    fn apply(&mut self, grant: &Grant) {
        let org = self.org;
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
                let Target::Network(id) = &grant.target else {
                    return;
                };
                let Some(pos) = org.position(id) else {
                    return;
                };
                let defined = org
                    .at(pos)
                    .and_then(|(_, def)| def.ports.get_key_value(name));
                if let Some((name, _)) = defined {
                    self.ports.push((pos, name.as_str()));
                }
            }
        }
    }

    pub fn org(&self) -> &'a OrgModel {
        self.org
    }

    pub fn org_access(&self) -> OrgAccess {
        self.org_access
    }

    /// Org side roles held (`helpdesk`), none under org `full`.
    pub fn org_roles(&self) -> &'static [&'static str] {
        if self.helpdesk {
            &[HELPDESK]
        } else {
            &[]
        }
    }

    fn full_everywhere(&self) -> bool {
        self.org_access == OrgAccess::Full
    }

    fn chain_at(&self, pos: usize) -> Option<Chain> {
        if self.full_everywhere() {
            return Some(Chain::Full);
        }
        Chain::from_level(self.chain.get(pos).copied().unwrap_or(0))
    }

    fn side_at(&self, pos: usize) -> u8 {
        self.side.get(pos).copied().unwrap_or(0)
    }

    fn ports_at(&self, pos: usize) -> &[(usize, &'a str)] {
        let start = self.ports.partition_point(|(p, _)| *p < pos);
        let end = self.ports.partition_point(|(p, _)| *p <= pos);
        self.ports.get(start..end).unwrap_or(&[])
    }

    fn visible_at(&self, pos: usize) -> bool {
        self.chain_at(pos).is_some() || self.side_at(pos) != 0 || !self.ports_at(pos).is_empty()
    }

    pub fn is_visible(&self, network_id: &str) -> bool {
        self.org
            .position(network_id)
            .is_some_and(|pos| self.visible_at(pos))
    }

    /// Ids of the visible networks, in id order.
    pub fn visible_networks(&self) -> impl Iterator<Item = &'a String> + '_ {
        let org = self.org;
        (0..org.len())
            .filter(|&pos| self.visible_at(pos))
            .filter_map(move |pos| org.at(pos).map(|(id, _)| id))
    }

    /// Whether the admin holds `capability` in `scope` (`org` or a network id); a hidden
    /// or unknown network holds nothing. Same answers as `Effective::can`.
    pub fn can(&self, scope: &str, capability: &str) -> bool {
        if scope == ORG_SCOPE {
            return org_access_carries(self.org_access, capability)
                || self
                    .org_roles()
                    .iter()
                    .any(|r| org_role_carries(r, capability));
        }
        let Some(pos) = self.org.position(scope) else {
            return false;
        };
        let def = self.org.at(pos).map(|(_, def)| def);
        self.accesses_at(pos)
            .any(|a| access_carries(a, def, capability))
    }

    /// Every capability held in `scope`; empty for a hidden or unknown network.
    pub fn capabilities(&self, scope: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if scope == ORG_SCOPE {
            org_access_capabilities(self.org_access, &mut out);
            for role in self.org_roles() {
                org_role_capabilities(role, &mut out);
            }
        } else if let Some(pos) = self.org.position(scope) {
            let def = self.org.at(pos).map(|(_, def)| def);
            for a in self.accesses_at(pos) {
                access_capabilities(a, def, &mut out);
            }
        }
        out
    }

    /// Every access held on the network at `pos`, before `full` absorbs side roles.
    fn accesses_at(&self, pos: usize) -> impl Iterator<Item = AccessRef<'a>> + '_ {
        let side = self.side_at(pos);
        let chain = self.chain_at(pos).map(AccessRef::Chain);
        let guest = (side & GUEST_AMBASSADOR != 0).then_some(AccessRef::GuestAmbassador);
        let installer = (side & INSTALLER != 0).then_some(AccessRef::Installer);
        let ports = self
            .ports_at(pos)
            .iter()
            .map(|(_, name)| AccessRef::Port(name));
        chain.into_iter().chain(guest).chain(installer).chain(ports)
    }

    /// The listing of the network at `pos` (accesses in byte order; `full` alone absorbs
    /// side roles), or `None` when hidden.
    fn listing_at(&self, pos: usize) -> Option<Vec<String>> {
        let level = self.chain_at(pos);
        if level == Some(Chain::Full) {
            return Some(vec![Chain::Full.as_str().to_string()]);
        }
        let side = self.side_at(pos);
        let ports = self.ports_at(pos);
        if level.is_none() && side == 0 && ports.is_empty() {
            return None;
        }
        // Pushed in byte order: guest-ambassador < installer < monitor-only < port:*
        // < read-only (the ports are sorted by name already; a test checks the order).
        let mut list = Vec::with_capacity(1 + side.count_ones() as usize + ports.len());
        if side & GUEST_AMBASSADOR != 0 {
            list.push("guest-ambassador".to_string());
        }
        if side & INSTALLER != 0 {
            list.push("installer".to_string());
        }
        if level == Some(Chain::MonitorOnly) {
            list.push(Chain::MonitorOnly.as_str().to_string());
        }
        list.extend(ports.iter().map(|(_, name)| format!("port:{name}")));
        if level == Some(Chain::ReadOnly) {
            list.push(Chain::ReadOnly.as_str().to_string());
        }
        Some(list)
    }

    /// The listing of one network, or `None` when hidden or unknown.
    pub fn accesses(&self, network_id: &str) -> Option<Vec<String>> {
        self.listing_at(self.org.position(network_id)?)
    }

    /// Renders the listing form.
    pub fn to_effective(&self) -> Effective {
        let mut networks = Vec::with_capacity(self.org.len());
        for (pos, id) in self.org.network_ids().enumerate() {
            if let Some(list) = self.listing_at(pos) {
                networks.push((id.clone(), list));
            }
        }
        Effective {
            org_access: self.org_access,
            org_roles: self.org_roles().iter().map(|r| r.to_string()).collect(),
            // In key order already, so the map is built in bulk.
            networks: networks.into_iter().collect(),
        }
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
