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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::testkit::{eff, g, org, NOW};
    use crate::authz::{effective, AdminInput, MspRoleInput};

    fn refusal(grantor: &Effective, grant: &str) -> String {
        match may_grant(grantor, &org(), &g(grant)) {
            Ok(()) => panic!("{grant} should be refused"),
            Err(e) => e,
        }
    }

    #[test]
    fn rule5_chain_level_on_every_covered_network() {
        let o = org();
        let net_admin = eff(
            OrgAccess::None,
            &["network:n1=full", "network:n2=read-only"],
        );
        for ok in [
            "network:n1=full",
            "network:n1=monitor-only",
            "network:n2=read-only",
        ] {
            assert_eq!(may_grant(&net_admin, &o, &g(ok)), Ok(()), "{ok}");
        }
        assert!(refusal(&net_admin, "network:n2=full").contains("you hold read-only on network n2"));
        assert_eq!(
            may_grant(&net_admin, &o, &g("tag:branch=read-only")),
            Ok(())
        );
        let e = refusal(&net_admin, "tag:branch=full");
        assert!(e.contains("n2") && e.contains("tag:branch"), "{e}");
        // A tag covering a network hidden from the grantor is refused without naming it.
        let e = refusal(
            &eff(OrgAccess::None, &["network:n1=full"]),
            "tag:branch=monitor-only",
        );
        assert!(e.contains("cannot see") && !e.contains("n2"), "{e}");
        // Org read-only holds read-only everywhere, no more.
        let reader = eff(OrgAccess::ReadOnly, &[]);
        assert_eq!(may_grant(&reader, &o, &g("tag:east=read-only")), Ok(()));
        assert!(refusal(&reader, "network:n3=full").contains("below the full"));
    }

    #[test]
    fn rule5_unknown_and_hidden_networks_are_not_found() {
        let grantor = eff(OrgAccess::None, &["network:n1=full"]);
        assert_eq!(
            refusal(&grantor, "network:n3=monitor-only"),
            "network n3 not found"
        );
        assert_eq!(
            refusal(&grantor, "network:n9=monitor-only"),
            "network n9 not found"
        );
    }

    #[test]
    fn rule5_side_roles_need_the_role_or_full() {
        let o = org();
        let ambassador = eff(OrgAccess::ReadOnly, &["network:n1=guest-ambassador"]);
        assert_eq!(
            may_grant(&ambassador, &o, &g("network:n1=guest-ambassador")),
            Ok(())
        );
        assert!(refusal(&ambassador, "network:n1=installer").contains("neither it nor full"));
        // read-only does not include a side role.
        refusal(&ambassador, "network:n2=guest-ambassador");
        let full = eff(OrgAccess::None, &["tag:branch=full"]);
        assert_eq!(may_grant(&full, &o, &g("tag:branch=installer")), Ok(()));
        assert_eq!(
            may_grant(&full, &o, &g("network:n2=guest-ambassador")),
            Ok(())
        );
    }

    #[test]
    fn rule5_port_privileges() {
        let o = org();
        let porter = eff(OrgAccess::None, &["network:n1=port:lobby"]);
        assert_eq!(may_grant(&porter, &o, &g("network:n1=port:lobby")), Ok(()));
        let full = eff(OrgAccess::None, &["network:n1=full"]);
        assert_eq!(may_grant(&full, &o, &g("network:n1=port:lobby")), Ok(()));
        refusal(&eff(OrgAccess::ReadOnly, &[]), "network:n1=port:lobby");
        assert!(refusal(&full, "tag:branch=port:lobby").contains("targets one network"));
        assert!(refusal(&full, "network:n1=port:dock").contains("defines no port privilege dock"));
    }

    #[test]
    fn rule5_all_is_never_accepted() {
        let boss = eff(OrgAccess::Full, &[]);
        for grant in ["all=monitor-only", "all=full", "all=installer"] {
            assert!(refusal(&boss, grant).contains("MSP role"), "{grant}");
        }
    }

    #[test]
    fn rule5_a_tag_on_no_network_needs_the_level_org_wide() {
        let o = org();
        let boss = eff(OrgAccess::Full, &[]);
        let reader = eff(OrgAccess::ReadOnly, &["tag:branch=full"]);
        assert_eq!(may_grant(&boss, &o, &g("tag:future=full")), Ok(()));
        assert_eq!(may_grant(&boss, &o, &g("tag:future=installer")), Ok(()));
        assert_eq!(may_grant(&reader, &o, &g("tag:future=read-only")), Ok(()));
        assert!(refusal(&reader, "tag:future=full").contains("needs org access full"));
        refusal(&reader, "tag:future=guest-ambassador");
        refusal(
            &eff(OrgAccess::None, &["tag:branch=full"]),
            "tag:future=monitor-only",
        );
    }

    #[test]
    fn rule5_org_access() {
        use OrgAccess::*;
        for (held, granted, ok) in [
            (Full, Full, true),
            (Full, ReadOnly, true),
            (ReadOnly, ReadOnly, true),
            (ReadOnly, None, true),
            (ReadOnly, Full, false),
            (None, ReadOnly, false),
            (None, None, true),
        ] {
            let r = may_grant_org_access(&eff(held, &[]), granted);
            assert_eq!(r.is_ok(), ok, "{held:?} granting {granted:?}: {r:?}");
        }
        let e = may_grant_org_access(&eff(ReadOnly, &[]), Full).unwrap_err();
        assert_eq!(
            e,
            "you hold org access read-only and cannot grant org access full"
        );
    }

    #[test]
    fn rule6_unlocking() {
        let boss = eff(OrgAccess::Full, &[]);
        let reader = eff(OrgAccess::ReadOnly, &[]);
        let branch_admin = eff(OrgAccess::None, &["tag:branch=full"]);
        let branch_reader = eff(OrgAccess::ReadOnly, &["tag:branch=full"]);
        let n1_monitor = eff(OrgAccess::None, &["network:n1=monitor-only"]);
        let n2_full = eff(
            OrgAccess::None,
            &["network:n2=full", "network:n2=installer"],
        );
        let n4_monitor = eff(OrgAccess::None, &["network:n4=monitor-only"]);
        let spread = eff(
            OrgAccess::None,
            &["network:n1=port:lobby", "network:n4=installer"],
        );
        let helpdesk = effective(
            &org(),
            &AdminInput {
                msp_role: Some(MspRoleInput {
                    role: "helpdesk".into(),
                    in_scope: true,
                }),
                ..Default::default()
            },
            NOW,
        );
        let nothing = eff(OrgAccess::None, &[]);
        // org full unlocks anyone
        for locked in [&boss, &reader, &helpdesk, &n4_monitor, &nothing] {
            assert!(may_unlock(&boss, locked));
        }
        // network full unlocks admins whose privileges all lie on its full networks
        assert!(may_unlock(&branch_admin, &n1_monitor));
        assert!(may_unlock(&branch_admin, &n2_full));
        assert!(may_unlock(&branch_reader, &n1_monitor));
        assert!(!may_unlock(&branch_admin, &n4_monitor));
        assert!(!may_unlock(&branch_admin, &spread));
        // a network-only admin never unlocks an org admin (org access, or any org role)
        assert!(!may_unlock(&branch_admin, &reader));
        assert!(!may_unlock(&branch_admin, &helpdesk));
        assert!(!may_unlock(&branch_reader, &reader));
        // read-only changes nothing; monitor-only and helpdesk unlock no admin
        assert!(!may_unlock(&reader, &n1_monitor));
        assert!(!may_unlock(&n1_monitor, &n1_monitor));
        assert!(!may_unlock(&helpdesk, &n1_monitor));
        // no privileges here: only org full
        assert!(!may_unlock(&branch_admin, &nothing));
    }
}
