//! The privilege engine of privileges.md (shared/spec/privileges.md beside the repository;
//! its test vectors are tests/fixtures/privilege-cases.json).
//!
//! This file holds the vocabulary: org access levels, network accesses and grant targets,
//! parsed and validated. The submodules combine grants into effective privileges:
//!
//! - `model`: the organization as the engine sees it (networks, tags, port privileges),
//!   with the tag index built once;
//! - `sources`: the bundles an admin's privileges come from ("Where grants come from");
//! - `capabilities`: what each access carries (the "Capabilities" table);
//! - `compact`: "Combining", evaluated into flat per-network arrays (`Privileges`);
//! - `engine`: `effective` and the `Effective` answer, the listing form;
//! - `rules`: who may grant what and who may unlock whom (rules 5 and 6);
//! - `explain`: which grants produce a capability.
//!
//! PURE: no async, no sqlx, no axum, no tokio, no I/O, no clock (time comes in as unix
//! seconds). Nothing here panics.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

pub mod capabilities;
pub mod compact;
pub mod engine;
pub mod explain;
pub mod model;
pub mod rules;
pub mod sources;
#[cfg(test)]
mod testkit;

pub use capabilities::{all_capabilities, NETWORK_CAPABILITIES, ORG_CAPABILITIES, ORG_SCOPE};
pub use compact::{privileges, Privileges};
pub use engine::{effective, Effective};
pub use explain::{explain, Explanation, Reason};
pub use model::{NetworkDef, OrgModel, PortPrivilegeDef};
pub use rules::{may_grant, may_grant_org_access, may_unlock};
pub use sources::{
    delegation_active, AdminInput, Bundle, DelegationInput, MappedRole, MspRoleInput, Source,
    HELPDESK,
};

/// `none` < `read-only` < `full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OrgAccess {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "read-only")]
    ReadOnly,
    #[serde(rename = "full")]
    Full,
}

impl OrgAccess {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(OrgAccess::None),
            "read-only" => Some(OrgAccess::ReadOnly),
            "full" => Some(OrgAccess::Full),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrgAccess::None => "none",
            OrgAccess::ReadOnly => "read-only",
            OrgAccess::Full => "full",
        }
    }
}

/// A network access: the chain (`monitor-only` < `read-only` < `full`) or a side role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetworkAccess {
    MonitorOnly,
    ReadOnly,
    Full,
    GuestAmbassador,
    Installer,
    Port(String),
}

impl NetworkAccess {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "monitor-only" => NetworkAccess::MonitorOnly,
            "read-only" => NetworkAccess::ReadOnly,
            "full" => NetworkAccess::Full,
            "guest-ambassador" => NetworkAccess::GuestAmbassador,
            "installer" => NetworkAccess::Installer,
            other => {
                let name = other.strip_prefix("port:")?;
                if !valid_word(name) {
                    return None;
                }
                NetworkAccess::Port(name.to_string())
            }
        })
    }
}

impl Serialize for NetworkAccess {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NetworkAccess {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NetworkAccess::parse(&s)
            .ok_or_else(|| de::Error::custom(format!("unknown network access '{s}'")))
    }
}

impl fmt::Display for NetworkAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkAccess::MonitorOnly => f.write_str("monitor-only"),
            NetworkAccess::ReadOnly => f.write_str("read-only"),
            NetworkAccess::Full => f.write_str("full"),
            NetworkAccess::GuestAmbassador => f.write_str("guest-ambassador"),
            NetworkAccess::Installer => f.write_str("installer"),
            NetworkAccess::Port(name) => write!(f, "port:{name}"),
        }
    }
}

/// What a network grant covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Network(String),
    Tag(String),
    /// Every network of the org; only MSP roles use it, never the API.
    All,
}

impl Target {
    pub fn parse(s: &str) -> Option<Self> {
        if s == "all" {
            return Some(Target::All);
        }
        let (kind, value) = s.split_once(':')?;
        match kind {
            "network" if !value.is_empty() => Some(Target::Network(value.to_string())),
            "tag" if valid_tag(value) => Some(Target::Tag(value.to_string())),
            _ => None,
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Target::parse(&s).ok_or_else(|| de::Error::custom(format!("unknown grant target '{s}'")))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Network(id) => write!(f, "network:{id}"),
            Target::Tag(tag) => write!(f, "tag:{tag}"),
            Target::All => f.write_str("all"),
        }
    }
}

/// A network grant; serialized as `{"target": "tag:branch", "access": "full"}` and
/// displayed as `tag:branch=full` (the CLI's and the audit log's form).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub target: Target,
    pub access: NetworkAccess,
}

impl Grant {
    /// `TARGET=ACCESS`, e.g. `tag:branch=full` or `network:n1=port:lobby`.
    pub fn parse(s: &str) -> Option<Self> {
        let (target, access) = s.split_once('=')?;
        Some(Grant {
            target: Target::parse(target)?,
            access: NetworkAccess::parse(access)?,
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.target, self.access)
    }
}

fn valid_word(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Tags are single words: lower-case letters, digits, `_` and `-`, 1–64 chars.
pub fn valid_tag(s: &str) -> bool {
    valid_word(s)
}

/// MSP staff roles (privileges.md); a staff member without one is a technician.
pub const MSP_ROLES: &[&str] = &[
    "super-user",
    "network-admin",
    "observer",
    "installer",
    "helpdesk",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(OrgAccess::parse("read-only"), Some(OrgAccess::ReadOnly));
        assert!(OrgAccess::None < OrgAccess::ReadOnly && OrgAccess::ReadOnly < OrgAccess::Full);
        assert_eq!(
            NetworkAccess::parse("port:lobby"),
            Some(NetworkAccess::Port("lobby".into()))
        );
        assert_eq!(NetworkAccess::parse("port:"), None);
        assert_eq!(NetworkAccess::parse("owner"), None);
        assert_eq!(Target::parse("tag:Branch"), None);
        assert_eq!(
            Target::parse("tag:east_1"),
            Some(Target::Tag("east_1".into()))
        );
        assert_eq!(Target::parse("network:"), None);
        let g = Grant::parse("network:n1=port:lobby");
        assert_eq!(
            g,
            Some(Grant {
                target: Target::Network("n1".into()),
                access: NetworkAccess::Port("lobby".into()),
            })
        );
        assert_eq!(
            g.map(|g| g.to_string()).as_deref(),
            Some("network:n1=port:lobby")
        );
        assert_eq!(Grant::parse("tag:branch"), None);
    }

    #[test]
    fn serde_uses_the_string_forms() {
        let g = Grant {
            target: Target::Tag("branch".into()),
            access: NetworkAccess::MonitorOnly,
        };
        let json = serde_json::to_string(&g).unwrap_or_default();
        assert_eq!(json, r#"{"target":"tag:branch","access":"monitor-only"}"#);
        let back: Grant = serde_json::from_str(&json).unwrap();
        assert_eq!(back, g);
        assert!(serde_json::from_str::<Grant>(r#"{"target":"tag:B","access":"full"}"#).is_err());
        assert!(serde_json::from_str::<Grant>(r#"{"target":"all","access":"owner"}"#).is_err());
    }
}
