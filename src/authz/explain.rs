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
use super::engine::{covers, effective};
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
    let held = effective(org, admin, now).can(org, scope, capability);
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
