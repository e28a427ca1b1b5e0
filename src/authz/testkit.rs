//! Builders shared by the engine's unit tests.

use super::*;
use std::collections::BTreeMap;

pub(crate) const NOW: i64 = 1_000;

/// n1 [branch] with port privilege lobby (no capture), n2 [branch, east], n3 [], n4 [west].
pub(crate) fn org() -> OrgModel {
    let net = |tags: &[&str]| NetworkDef {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ports: BTreeMap::new(),
    };
    let mut n1 = net(&["branch"]);
    n1.ports
        .insert("lobby".into(), PortPrivilegeDef { capture: false });
    OrgModel::new(BTreeMap::from([
        ("n1".to_string(), n1),
        ("n2".to_string(), net(&["branch", "east"])),
        ("n3".to_string(), net(&[])),
        ("n4".to_string(), net(&["west"])),
    ]))
}

pub(crate) fn g(s: &str) -> Grant {
    Grant::parse(s).expect("grant")
}

pub(crate) fn own(org_access: OrgAccess, grants: &[&str]) -> AdminInput {
    AdminInput {
        own: Some(Bundle {
            org_access: Some(org_access),
            org_roles: vec![],
            grants: grants.iter().map(|s| g(s)).collect(),
        }),
        ..Default::default()
    }
}

pub(crate) fn eff(org_access: OrgAccess, grants: &[&str]) -> Effective {
    effective(&org(), &own(org_access, grants), NOW)
}
