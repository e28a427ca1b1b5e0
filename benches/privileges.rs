//! The privilege engine at MSP scale: an org of 10,000 networks carrying 50 tags, and an
//! admin with 30 grants from every kind of source. Targets: `effective` <= 1 ms, one
//! `can` check on a computed `Effective` <= 2 µs.
//!
//! `effective` renders a `BTreeMap<String, Vec<String>>` with an entry per visible network
//! (three heap allocations each); `baseline/` measures building and dropping that map
//! alone, the floor for `effective`. `privileges` is the same evaluation without the
//! listing.

use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use std::hint::black_box;
use tenantry::authz::{
    effective, privileges, AdminInput, Bundle, DelegationInput, Grant, MappedRole, MspRoleInput,
    NetworkAccess, NetworkDef, OrgAccess, OrgModel, PortPrivilegeDef, Target,
};

const NETWORKS: usize = 10_000;
const TAGS: usize = 50;
const NOW: i64 = 1_800_000_000;

/// Network i carries tags i%50 and (i/7)%50; every tenth network defines two port
/// privileges.
fn org() -> OrgModel {
    let networks = (0..NETWORKS)
        .map(|i| {
            let mut tags = vec![format!("t{}", i % TAGS)];
            let second = format!("t{}", (i / 7) % TAGS);
            if second != tags[0] {
                tags.push(second);
            }
            let ports = if i % 10 == 0 {
                BTreeMap::from([
                    ("lobby".to_string(), PortPrivilegeDef { capture: false }),
                    ("lab".to_string(), PortPrivilegeDef { capture: true }),
                ])
            } else {
                BTreeMap::new()
            };
            (format!("net-{i:05}"), NetworkDef { tags, ports })
        })
        .collect();
    OrgModel::new(networks)
}

fn grant(target: Target, access: NetworkAccess) -> Grant {
    Grant { target, access }
}

fn tag(i: usize) -> Target {
    Target::Tag(format!("t{}", i % TAGS))
}

fn net(i: usize) -> Target {
    Target::Network(format!("net-{:05}", i % NETWORKS))
}

/// 30 grants: 10 own, 1 MSP role (`all` -> monitor-only, org role helpdesk), 3 delegations
/// with 9 grants (one expired, one pending), 2 mapped roles with 10 grants.
fn admin(msp_role: &str) -> AdminInput {
    use NetworkAccess::*;
    let own = Bundle {
        org_access: Some(OrgAccess::None),
        org_roles: vec![],
        grants: vec![
            grant(tag(1), ReadOnly),
            grant(tag(2), Full),
            grant(tag(3), GuestAmbassador),
            grant(tag(4), MonitorOnly),
            grant(net(10), Port("lobby".into())),
            grant(net(20), Port("lab".into())),
            grant(net(30), Installer),
            grant(net(44), Full),
            grant(net(55), ReadOnly),
            grant(tag(5), Installer),
        ],
    };
    let delegation = |id: &str, expires_at, approved, grants| DelegationInput {
        id: id.into(),
        org_access: None,
        grants,
        expires_at,
        approved,
    };
    let delegations = vec![
        delegation(
            "d1",
            Some(NOW + 3600),
            true,
            vec![
                grant(tag(6), Full),
                grant(tag(7), ReadOnly),
                grant(net(70), Full),
            ],
        ),
        delegation(
            "d2",
            Some(NOW - 1),
            true,
            vec![
                grant(tag(8), Full),
                grant(tag(9), GuestAmbassador),
                grant(net(90), Full),
            ],
        ),
        delegation(
            "d3",
            None,
            false,
            vec![
                grant(tag(10), Full),
                grant(tag(11), Installer),
                grant(net(110), Full),
            ],
        ),
    ];
    let mapped = |name: &str, offset: usize| MappedRole {
        name: name.into(),
        bundle: Bundle {
            org_access: Some(OrgAccess::None),
            org_roles: vec![],
            grants: (0..5)
                .map(|k| match k {
                    0 => grant(tag(offset), MonitorOnly),
                    1 => grant(tag(offset + 1), ReadOnly),
                    2 => grant(tag(offset + 2), Full),
                    3 => grant(net(offset * 100), GuestAmbassador),
                    _ => grant(net(offset * 100 + 1), Port("lab".into())),
                })
                .collect(),
        },
    };
    AdminInput {
        own: Some(own),
        msp_role: Some(MspRoleInput {
            role: msp_role.into(),
            in_scope: true,
        }),
        delegations,
        mapped_roles: vec![mapped("netadmins", 20), mapped("branch-it", 30)],
    }
}

fn bench(c: &mut Criterion) {
    let org = org();
    // helpdesk: `all` -> monitor-only makes every one of the 10,000 networks visible (the
    // worst case for the listing); technician (no MSP role bundle): the tagged networks.
    for role in ["helpdesk", "technician"] {
        let admin = admin(role);
        let eff = effective(&org, &admin, NOW);
        assert!(eff.networks.len() > 1_000);
        eprintln!("{role}: {} visible networks", eff.networks.len());
        c.bench_function(&format!("effective/{role}"), |b| {
            b.iter(|| effective(black_box(&org), black_box(&admin), NOW))
        });
        c.bench_function(&format!("privileges/{role}"), |b| {
            b.iter(|| privileges(black_box(&org), black_box(&admin), NOW))
        });
    }
    let admin = admin("helpdesk");
    let eff = effective(&org, &admin, NOW);
    let compact = privileges(&org, &admin, NOW);
    for (scope, cap, held) in [
        ("net-00020", "ports.lab.capture", true),
        ("net-09999", "network.config.edit", false),
    ] {
        assert_eq!(eff.can(&org, scope, cap), held);
        assert_eq!(compact.can(scope, cap), held);
        let name = if held { "held" } else { "denied" };
        c.bench_function(&format!("can/Effective, {name}"), |b| {
            b.iter(|| black_box(&eff).can(black_box(&org), black_box(scope), black_box(cap)))
        });
        c.bench_function(&format!("can/Privileges, {name}"), |b| {
            b.iter(|| black_box(&compact).can(black_box(scope), black_box(cap)))
        });
    }
    let ids: Vec<String> = org.network_ids().cloned().collect();
    c.bench_function("baseline/build and drop a 10k-entry listing", |b| {
        b.iter(|| {
            black_box(&ids)
                .iter()
                .map(|id| (id.clone(), vec!["monitor-only".to_string()]))
                .collect::<BTreeMap<String, Vec<String>>>()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
