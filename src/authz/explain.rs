//! Why an admin holds a capability: every bundle grant that carries it, from every source.
//! Answers "who gave them this, and what would I have to remove".
//!
//! A grant counts as a reason when its own access carries the capability in the scope,
//! whether or not `full` absorbs it in the listing: a guest-ambassador grant is a reason
//! for `network.guests.manage` beside a `full` one, and the org role helpdesk beside org
//! `full`. When the capability is not held the explanation has no reasons.
//!
//! PURE: no async, no I/O, no clock.

use super::capabilities::{
    access_carries, org_access_carries, org_role_carries, port_defined, AccessRef, Chain, ORG_SCOPE,
};
use super::compact::privileges;
use super::engine::covers;
use super::model::OrgModel;
use super::sources::{active_bundles, Active, AdminInput, Source, HELPDESK};
use super::{Grant, Target};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub held: bool,
    /// Empty when not held; otherwise in source order (own account, MSP role,
    /// delegations, mapped roles), then grant order within a source.
    pub reasons: Vec<Reason>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Reason {
    pub source: Source,
    /// `tag:branch=full`, `network:n1=port:lobby`, `all=monitor-only`, `org_access=full`,
    /// `org_role=helpdesk`.
    pub grant: String,
    /// The access that carries the capability: a network access, an org access level, or
    /// an org role name.
    pub access: String,
    /// One sentence, e.g. `full on n12 via tag:branch from mapped role netadmins`.
    pub text: String,
}

/// Explains `capability` in `scope` (`org` or a network id) for `admin` at `now`.
/// `held` always equals `effective(org, admin, now).can(org, scope, capability)`.
pub fn explain(
    org: &OrgModel,
    admin: &AdminInput,
    now: i64,
    scope: &str,
    capability: &str,
) -> Explanation {
    // The same answer as `effective(..).can(..)` (a property test holds them together),
    // without rendering the listing.
    let held = privileges(org, admin, now).can(scope, capability);
    let mut reasons: Vec<Reason> = Vec::new();
    if held {
        for b in active_bundles(admin, now) {
            if scope == ORG_SCOPE {
                org_reasons(&b, capability, &mut reasons);
            } else {
                network_reasons(org, &b, scope, capability, &mut reasons);
            }
        }
    }
    Explanation { held, reasons }
}

fn push(reasons: &mut Vec<Reason>, reason: Reason) {
    // The same grant twice in one source is one reason.
    if !reasons
        .iter()
        .any(|r| r.source == reason.source && r.grant == reason.grant)
    {
        reasons.push(reason);
    }
}

fn org_reasons(b: &Active<'_>, capability: &str, reasons: &mut Vec<Reason>) {
    if org_access_carries(b.org_access, capability) {
        let level = b.org_access.as_str();
        push(
            reasons,
            Reason {
                source: b.source.to_source(),
                grant: format!("org_access={level}"),
                access: level.to_string(),
                text: format!("org access {level} from {}", b.source),
            },
        );
    }
    if b.helpdesk && org_role_carries(HELPDESK, capability) {
        push(
            reasons,
            Reason {
                source: b.source.to_source(),
                grant: format!("org_role={HELPDESK}"),
                access: HELPDESK.to_string(),
                text: format!("org role {HELPDESK} from {}", b.source),
            },
        );
    }
}

fn network_reasons(
    org: &OrgModel,
    b: &Active<'_>,
    id: &str,
    capability: &str,
    reasons: &mut Vec<Reason>,
) {
    let Some(def) = org.network(id) else {
        return;
    };
    if let Some(level) = Chain::from_org(b.org_access) {
        if access_carries(AccessRef::Chain(level), Some(def), capability) {
            let org_level = b.org_access.as_str();
            push(
                reasons,
                Reason {
                    source: b.source.to_source(),
                    grant: format!("org_access={org_level}"),
                    access: level.as_str().to_string(),
                    text: format!(
                        "{} on {id} via org access {org_level} from {}",
                        level.as_str(),
                        b.source
                    ),
                },
            );
        }
    }
    for grant in b.grants {
        if !honoured(grant, id, &def.tags, org) {
            continue;
        }
        if access_carries(AccessRef::of(&grant.access), Some(def), capability) {
            let via = match &grant.target {
                Target::All => "all networks".to_string(),
                target => target.to_string(),
            };
            push(
                reasons,
                Reason {
                    source: b.source.to_source(),
                    grant: grant.to_string(),
                    access: grant.access.to_string(),
                    text: format!("{} on {id} via {via} from {}", grant.access, b.source),
                },
            );
        }
    }
}

/// Whether `grant` applies to network `id` the way the engine applies it: the target
/// covers the network, and a port grant targets the network directly and names a port
/// privilege it defines.
fn honoured(grant: &Grant, id: &str, tags: &[String], org: &OrgModel) -> bool {
    if !covers(&grant.target, id, tags) {
        return false;
    }
    match AccessRef::of(&grant.access) {
        AccessRef::Port(name) => {
            matches!(grant.target, Target::Network(_)) && port_defined(org.network(id), name)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::testkit::{g, org, own, NOW};
    use crate::authz::{Bundle, DelegationInput, MappedRole, MspRoleInput, OrgAccess};

    #[test]
    fn explain_names_every_source_and_grant() {
        let o = org();
        let admin = AdminInput {
            own: Some(Bundle {
                org_access: Some(OrgAccess::Full),
                ..Default::default()
            }),
            msp_role: Some(MspRoleInput {
                role: "helpdesk".into(),
                in_scope: true,
            }),
            delegations: vec![DelegationInput {
                id: "d-7".into(),
                approved: true,
                grants: vec![g("network:n1=port:lobby")],
                ..Default::default()
            }],
            mapped_roles: vec![MappedRole {
                name: "netadmins".into(),
                bundle: Bundle {
                    grants: vec![g("tag:branch=full"), g("tag:branch=full")],
                    ..Default::default()
                },
            }],
        };
        let texts = |scope: &str, cap: &str| {
            let why = explain(&o, &admin, NOW, scope, cap);
            assert!(why.held, "{scope}:{cap}");
            why.reasons.into_iter().map(|r| r.text).collect::<Vec<_>>()
        };
        assert_eq!(
            texts("n1", "network.config.edit"),
            [
                "full on n1 via org access full from own account",
                "full on n1 via tag:branch from mapped role netadmins",
            ]
        );
        assert_eq!(
            texts("n1", "network.view"),
            [
                "full on n1 via org access full from own account",
                "monitor-only on n1 via all networks from MSP role helpdesk",
                "port:lobby on n1 via network:n1 from delegation d-7",
                "full on n1 via tag:branch from mapped role netadmins",
            ]
        );
        assert_eq!(
            texts("org", "org.users.helpdesk"),
            [
                "org access full from own account",
                "org role helpdesk from MSP role helpdesk",
            ]
        );
        let why = explain(&o, &admin, NOW, "n1", "ports.lobby.manage");
        let r = &why.reasons[1];
        assert_eq!(r.source, Source::Delegation { id: "d-7".into() });
        assert_eq!(
            (r.grant.as_str(), r.access.as_str()),
            ("network:n1=port:lobby", "port:lobby")
        );
        let why = explain(&o, &admin, NOW, "n2", "network.monitor");
        let grants: Vec<_> = why.reasons.iter().map(|r| r.grant.as_str()).collect();
        assert_eq!(
            grants,
            ["org_access=full", "all=monitor-only", "tag:branch=full"]
        );
        assert_eq!(
            why.reasons[1].source,
            Source::MspRole {
                role: "helpdesk".into()
            }
        );
        let json = serde_json::to_value(&why.reasons[2]).expect("serialize");
        assert_eq!(
            json["source"],
            serde_json::json!({"kind": "mapped_role", "name": "netadmins"})
        );
    }

    #[test]
    fn explain_without_the_capability_has_no_reasons() {
        let o = org();
        let admin = own(OrgAccess::None, &["network:n1=monitor-only"]);
        for (scope, cap) in [
            ("n1", "network.config.view"),
            ("n2", "network.view"),
            ("n9", "network.view"),
        ] {
            let why = explain(&o, &admin, NOW, scope, cap);
            assert!(!why.held && why.reasons.is_empty(), "{scope}:{cap}");
        }
        let why = explain(&o, &admin, NOW, "n1", "network.monitor");
        assert_eq!(why.reasons.len(), 1);
        assert_eq!(why.reasons[0].grant, "network:n1=monitor-only");
        assert_eq!(why.reasons[0].source, Source::Own);
    }
}
