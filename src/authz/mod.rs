//! The privilege vocabulary of privileges.md: org access levels, network accesses and
//! grant targets, parsed and validated. PURE: no async, no sqlx, no axum. The engine that
//! combines grants into effective privileges arrives with the privileges issue.

use serde::{Deserialize, Serialize};
use std::fmt;

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

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Network(id) => write!(f, "network:{id}"),
            Target::Tag(tag) => write!(f, "tag:{tag}"),
            Target::All => f.write_str("all"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub target: Target,
    pub access: NetworkAccess,
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
    }
}
