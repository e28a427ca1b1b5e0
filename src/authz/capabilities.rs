//! What each access carries: the "Capabilities" table of privileges.md. Apps that trust
//! our tokens check these names, never level names.
//!
//! The checks here borrow; they allocate nothing, so a `can` check stays cheap.
//! PURE: no async, no I/O.

use super::model::{NetworkDef, OrgModel};
use super::sources::HELPDESK;
use super::{NetworkAccess, OrgAccess};
use std::collections::BTreeSet;

/// The scope name of the organization itself (a network id otherwise).
pub const ORG_SCOPE: &str = "org";

/// Every org-scope capability.
pub const ORG_CAPABILITIES: &[&str] = &[
    "org.view",
    "org.admins.view",
    "org.edit",
    "org.admins.manage",
    "org.users.helpdesk",
];

/// Every network-scope capability except the per-port ones (`ports.NAME.manage`,
/// `ports.NAME.capture`), which depend on the network's port privileges.
pub const NETWORK_CAPABILITIES: &[&str] = &[
    "network.view",
    "network.monitor",
    "network.reports.view",
    "network.config.view",
    "network.ports.cycle",
    "network.cable_test",
    "network.config.edit",
    "network.guests.manage",
    "network.admins.manage",
    "network.admins.unlock",
    "network.reports.schedule",
    "network.devices.install",
    "network.packet_capture",
];

const ORG_READ_ONLY: &[&str] = &["org.view", "org.admins.view"];
const ORG_FULL: &[&str] = &["org.edit", "org.admins.manage", "org.users.helpdesk"];
const ORG_HELPDESK: &[&str] = &["org.users.helpdesk"];

const MONITOR_ONLY: &[&str] = &["network.view", "network.monitor", "network.reports.view"];
const READ_ONLY: &[&str] = &[
    "network.config.view",
    "network.ports.cycle",
    "network.cable_test",
];
const FULL: &[&str] = &[
    "network.config.edit",
    "network.guests.manage",
    "network.admins.manage",
    "network.admins.unlock",
    "network.reports.schedule",
    "network.devices.install",
    "network.packet_capture",
];
const GUEST_AMBASSADOR: &[&str] = &["network.view", "network.guests.manage"];
const INSTALLER: &[&str] = &["network.view", "network.devices.install"];

/// A chain level; the discriminants order the chain and index the engine's work arrays
/// (0 = no chain level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Chain {
    MonitorOnly = 1,
    ReadOnly = 2,
    Full = 3,
}

impl Chain {
    pub(crate) fn from_level(level: u8) -> Option<Chain> {
        match level {
            1 => Some(Chain::MonitorOnly),
            2 => Some(Chain::ReadOnly),
            3 => Some(Chain::Full),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Chain::MonitorOnly => "monitor-only",
            Chain::ReadOnly => "read-only",
            Chain::Full => "full",
        }
    }

    /// The chain level org access gives on every network.
    pub(crate) fn from_org(access: OrgAccess) -> Option<Chain> {
        match access {
            OrgAccess::None => None,
            OrgAccess::ReadOnly => Some(Chain::ReadOnly),
            OrgAccess::Full => Some(Chain::Full),
        }
    }
}

/// A network access, borrowed: parsed from a grant or from an `Effective` listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AccessRef<'a> {
    Chain(Chain),
    GuestAmbassador,
    Installer,
    Port(&'a str),
}

impl<'a> AccessRef<'a> {
    pub(crate) fn of(access: &'a NetworkAccess) -> Self {
        match access {
            NetworkAccess::MonitorOnly => AccessRef::Chain(Chain::MonitorOnly),
            NetworkAccess::ReadOnly => AccessRef::Chain(Chain::ReadOnly),
            NetworkAccess::Full => AccessRef::Chain(Chain::Full),
            NetworkAccess::GuestAmbassador => AccessRef::GuestAmbassador,
            NetworkAccess::Installer => AccessRef::Installer,
            NetworkAccess::Port(name) => AccessRef::Port(name),
        }
    }

    /// Parses the listing form (`full`, `port:lobby`, ...).
    pub(crate) fn parse(s: &'a str) -> Option<Self> {
        Some(match s {
            "monitor-only" => AccessRef::Chain(Chain::MonitorOnly),
            "read-only" => AccessRef::Chain(Chain::ReadOnly),
            "full" => AccessRef::Chain(Chain::Full),
            "guest-ambassador" => AccessRef::GuestAmbassador,
            "installer" => AccessRef::Installer,
            other => AccessRef::Port(other.strip_prefix("port:")?),
        })
    }
}

/// `ports.NAME.manage` -> (NAME, false); `ports.NAME.capture` -> (NAME, true).
fn port_capability(capability: &str) -> Option<(&str, bool)> {
    let (name, op) = capability.strip_prefix("ports.")?.rsplit_once('.')?;
    match op {
        "manage" => Some((name, false)),
        "capture" => Some((name, true)),
        _ => None,
    }
}

/// Whether org access `access` carries the org capability.
pub(crate) fn org_access_carries(access: OrgAccess, capability: &str) -> bool {
    match access {
        OrgAccess::None => false,
        OrgAccess::ReadOnly => ORG_READ_ONLY.contains(&capability),
        OrgAccess::Full => ORG_READ_ONLY.contains(&capability) || ORG_FULL.contains(&capability),
    }
}

/// Whether an org side role carries the org capability; unknown roles carry nothing.
pub(crate) fn org_role_carries(role: &str, capability: &str) -> bool {
    role == HELPDESK && ORG_HELPDESK.contains(&capability)
}

/// Whether a port privilege grant is one the engine honours on this network: the network
/// defines the privilege. (The target rule is checked where the target is known.)
pub(crate) fn port_defined(def: Option<&NetworkDef>, name: &str) -> bool {
    def.is_some_and(|d| d.ports.contains_key(name))
}

/// Whether `access` on a network defined by `def` carries the network capability.
pub(crate) fn access_carries(
    access: AccessRef<'_>,
    def: Option<&NetworkDef>,
    capability: &str,
) -> bool {
    match access {
        AccessRef::Chain(level) => {
            MONITOR_ONLY.contains(&capability)
                || (level >= Chain::ReadOnly && READ_ONLY.contains(&capability))
                || (level == Chain::Full
                    && (FULL.contains(&capability)
                        || port_capability(capability)
                            .is_some_and(|(name, _)| port_defined(def, name))))
        }
        AccessRef::GuestAmbassador => GUEST_AMBASSADOR.contains(&capability),
        AccessRef::Installer => INSTALLER.contains(&capability),
        AccessRef::Port(name) => {
            let Some(privilege) = def.and_then(|d| d.ports.get(name)) else {
                return false;
            };
            capability == "network.view"
                || port_capability(capability).is_some_and(|(cap_name, capture)| {
                    cap_name == name && (!capture || privilege.capture)
                })
        }
    }
}

fn extend(out: &mut BTreeSet<String>, names: &[&str]) {
    out.extend(names.iter().map(|s| s.to_string()));
}

/// Adds the org capabilities of `access` to `out`.
pub(crate) fn org_access_capabilities(access: OrgAccess, out: &mut BTreeSet<String>) {
    match access {
        OrgAccess::None => {}
        OrgAccess::ReadOnly => extend(out, ORG_READ_ONLY),
        OrgAccess::Full => {
            extend(out, ORG_READ_ONLY);
            extend(out, ORG_FULL);
        }
    }
}

/// Adds the org capabilities of an org side role to `out`.
pub(crate) fn org_role_capabilities(role: &str, out: &mut BTreeSet<String>) {
    if role == HELPDESK {
        extend(out, ORG_HELPDESK);
    }
}

/// Adds the network capabilities of `access` on a network defined by `def` to `out`.
pub(crate) fn access_capabilities(
    access: AccessRef<'_>,
    def: Option<&NetworkDef>,
    out: &mut BTreeSet<String>,
) {
    match access {
        AccessRef::Chain(level) => {
            extend(out, MONITOR_ONLY);
            if level >= Chain::ReadOnly {
                extend(out, READ_ONLY);
            }
            if level == Chain::Full {
                extend(out, FULL);
                for name in def.iter().flat_map(|d| d.ports.keys()) {
                    out.insert(format!("ports.{name}.manage"));
                    out.insert(format!("ports.{name}.capture"));
                }
            }
        }
        AccessRef::GuestAmbassador => extend(out, GUEST_AMBASSADOR),
        AccessRef::Installer => extend(out, INSTALLER),
        AccessRef::Port(name) => {
            if let Some(privilege) = def.and_then(|d| d.ports.get(name)) {
                out.insert("network.view".to_string());
                out.insert(format!("ports.{name}.manage"));
                if privilege.capture {
                    out.insert(format!("ports.{name}.capture"));
                }
            }
        }
    }
}

/// Every capability that exists in `scope` (`org` or a network id): what org `full`
/// yields there. An unknown network has none.
pub fn all_capabilities(org: &OrgModel, scope: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if scope == ORG_SCOPE {
        extend(&mut out, ORG_CAPABILITIES);
    } else if let Some(def) = org.network(scope) {
        access_capabilities(AccessRef::Chain(Chain::Full), Some(def), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::model::PortPrivilegeDef;
    use std::collections::BTreeMap;

    #[test]
    fn lists_agree_with_the_table() {
        let chain: Vec<&str> = [MONITOR_ONLY, READ_ONLY, FULL].concat();
        assert_eq!(chain, NETWORK_CAPABILITIES);
        let org: Vec<&str> = [ORG_READ_ONLY, ORG_FULL].concat();
        assert_eq!(org, ORG_CAPABILITIES);
        // Side roles carry nothing full lacks.
        for cap in GUEST_AMBASSADOR.iter().chain(INSTALLER) {
            assert!(access_carries(AccessRef::Chain(Chain::Full), None, cap));
        }
        assert!(ORG_HELPDESK
            .iter()
            .all(|c| org_access_carries(OrgAccess::Full, c)));
    }

    #[test]
    fn port_capabilities() {
        let def = NetworkDef {
            tags: vec![],
            ports: BTreeMap::from([
                ("lobby".to_string(), PortPrivilegeDef { capture: false }),
                ("lab".to_string(), PortPrivilegeDef { capture: true }),
            ]),
        };
        let d = Some(&def);
        assert!(access_carries(
            AccessRef::Port("lobby"),
            d,
            "ports.lobby.manage"
        ));
        assert!(!access_carries(
            AccessRef::Port("lobby"),
            d,
            "ports.lobby.capture"
        ));
        assert!(!access_carries(
            AccessRef::Port("lobby"),
            d,
            "ports.lab.manage"
        ));
        assert!(access_carries(
            AccessRef::Port("lab"),
            d,
            "ports.lab.capture"
        ));
        assert!(!access_carries(AccessRef::Port("gone"), d, "network.view"));
        let full = AccessRef::Chain(Chain::Full);
        assert!(access_carries(full, d, "ports.lobby.capture"));
        assert!(!access_carries(full, d, "ports.gone.manage"));
        assert!(!access_carries(full, d, "ports.lobby.delete"));
        let mut caps = BTreeSet::new();
        access_capabilities(AccessRef::Port("lobby"), d, &mut caps);
        assert_eq!(
            caps.into_iter().collect::<Vec<_>>(),
            ["network.view", "ports.lobby.manage"]
        );
        let org = OrgModel::new(BTreeMap::from([("n1".to_string(), def)]));
        assert_eq!(
            all_capabilities(&org, "n1").len(),
            NETWORK_CAPABILITIES.len() + 4
        );
        assert!(all_capabilities(&org, "n2").is_empty());
        assert_eq!(all_capabilities(&org, "org").len(), ORG_CAPABILITIES.len());
    }

    #[test]
    fn parses_listing_forms() {
        assert_eq!(
            AccessRef::parse("port:lobby"),
            Some(AccessRef::Port("lobby"))
        );
        assert_eq!(AccessRef::parse("owner"), None);
        for level in 1..=3 {
            let chain = Chain::from_level(level);
            assert_eq!(
                chain.and_then(|c| AccessRef::parse(c.as_str())),
                chain.map(AccessRef::Chain)
            );
        }
    }
}
