//! Rules for managing admins that are about privilege levels: privileges.md rule 5 (nobody
//! grants more than they hold) and rule 6 (who unlocks whom). The other rules need the
//! store and live in core; these are pure comparisons of `Effective` values.
//!
//! PURE: no async, no I/O.

use super::capabilities::{AccessRef, Chain};
use super::engine::Effective;
use super::model::OrgModel;
use super::{Grant, OrgAccess, Target};

/// Rule 5 for network grants: Ok when `grantor` may grant `grant` in `org`, otherwise the
/// reason as one sentence.
///
/// - Chain levels: the grantor's chain level on every network the target covers must be at
///   least the granted level.
/// - Side roles and port privileges: the grantor must hold that role (or `full`) on every
///   covered network.
/// - `all` is never accepted; a port privilege must target one network that defines it.
/// - A tag on no network yet would reach every network that gets the tag later, so it
///   counts as covering every network: the grantor needs the level org-wide through org
///   access (org `read-only` for monitor-only/read-only, org `full` otherwise).
/// - A network the grantor cannot see answers "not found", whether or not it exists, and
///   refusals never name a network hidden from the grantor.
pub fn may_grant(grantor: &Effective, org: &OrgModel, grant: &Grant) -> Result<(), String> {
    let access = AccessRef::of(&grant.access);
    match &grant.target {
        Target::All => Err(
            "a grant to all networks comes only from an MSP role; grant a network or a tag instead"
                .to_string(),
        ),
        Target::Network(id) => {
            if org.network(id).is_none() || !grantor.is_visible(id) {
                return Err(format!("network {id} not found"));
            }
            if let AccessRef::Port(name) = access {
                if !org.network(id).is_some_and(|d| d.ports.contains_key(name)) {
                    return Err(format!("network {id} defines no port privilege {name}"));
                }
            }
            if holds(grantor, id, access) {
                Ok(())
            } else {
                Err(shortfall(grantor, id, access, &grant.access.to_string()))
            }
        }
        Target::Tag(tag) => {
            if let AccessRef::Port(name) = access {
                return Err(format!(
                    "port:{name} targets one network directly (network:ID=port:{name}), not tag:{tag}"
                ));
            }
            let mut covered = org.networks_with_tag(tag).peekable();
            if covered.peek().is_none() {
                let needed = match access {
                    AccessRef::Chain(Chain::MonitorOnly | Chain::ReadOnly) => OrgAccess::ReadOnly,
                    _ => OrgAccess::Full,
                };
                return if grantor.org_access >= needed {
                    Ok(())
                } else {
                    Err(format!(
                        "tag:{tag} is on no network yet and would cover every network that gets it, \
                         so granting {} through it needs org access {} (you hold {})",
                        grant.access,
                        needed.as_str(),
                        grantor.org_access.as_str()
                    ))
                };
            }
            for id in covered {
                if holds(grantor, id, access) {
                    continue;
                }
                if !grantor.is_visible(id) {
                    return Err(format!(
                        "tag:{tag} covers networks you cannot see, so you cannot grant {} through it",
                        grant.access
                    ));
                }
                return Err(format!(
                    "{} through tag:{tag}",
                    shortfall(grantor, id, access, &grant.access.to_string())
                ));
            }
            Ok(())
        }
    }
}

/// Whether the grantor holds at least `access` on network `id`.
fn holds(grantor: &Effective, id: &str, access: AccessRef<'_>) -> bool {
    match access {
        AccessRef::Chain(level) => grantor.chain(id).is_some_and(|held| held >= level),
        AccessRef::GuestAmbassador => {
            grantor.lists(id, "full") || grantor.lists(id, "guest-ambassador")
        }
        AccessRef::Installer => grantor.lists(id, "full") || grantor.lists(id, "installer"),
        AccessRef::Port(name) => {
            grantor.lists(id, "full")
                || grantor
                    .networks
                    .get(id)
                    .is_some_and(|list| list.iter().any(|a| a.strip_prefix("port:") == Some(name)))
        }
    }
}

fn shortfall(grantor: &Effective, id: &str, access: AccessRef<'_>, granted: &str) -> String {
    match access {
        AccessRef::Chain(_) => format!(
            "you hold {} on network {id}, below the {granted} you are granting",
            grantor.chain_level(id).unwrap_or("no chain level")
        ),
        _ => format!(
            "you cannot grant {granted} on network {id}: you hold neither it nor full there"
        ),
    }
}

/// Rule 5 for org access: the grantor's effective org access must be at least `access`.
pub fn may_grant_org_access(grantor: &Effective, access: OrgAccess) -> Result<(), String> {
    if grantor.org_access >= access {
        Ok(())
    } else {
        Err(format!(
            "you hold org access {} and cannot grant org access {}",
            grantor.org_access.as_str(),
            access.as_str()
        ))
    }
}

/// Rule 6: whether `unlocker` may unlock the locked-out admin `locked` (both effective in
/// the same organization).
///
/// - Org `full` unlocks anyone.
/// - Otherwise the unlocker acts only through network `full`, which unlocks admins whose
///   privileges all lie on networks where the unlocker holds `full`. An org admin (org
///   access other than `none`, or any org role) holds privileges beyond networks, so only
///   org `full` unlocks one; org `read-only` and `helpdesk` never unlock an admin.
/// - An admin with no privilege here lies on none of the unlocker's networks: only org
///   `full` unlocks them.
pub fn may_unlock(unlocker: &Effective, locked: &Effective) -> bool {
    if unlocker.org_access == OrgAccess::Full {
        return true;
    }
    if locked.org_access != OrgAccess::None || !locked.org_roles.is_empty() {
        return false;
    }
    !locked.networks.is_empty() && locked.networks.keys().all(|id| unlocker.lists(id, "full"))
}
