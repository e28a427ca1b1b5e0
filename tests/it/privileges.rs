//! Privilege engine tests: the vectors of privilege-cases.json and properties of the
//! engine (privileges.md "Combining"). Unit tests of rules 5 and 6 and of explanation
//! texts sit beside the code in src/authz (rules.rs, explain.rs).

use proptest::prelude::*;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tenantry::authz::{
    effective, explain, privileges, AdminInput, Bundle, DelegationInput, Effective, Grant,
    MappedRole, MspRoleInput, NetworkAccess, NetworkDef, OrgAccess, OrgModel, PortPrivilegeDef,
    Target, MSP_ROLES, NETWORK_CAPABILITIES, ORG_CAPABILITIES,
};

// ---------------------------------------------------------------------------------------
// privilege-cases.json

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    networks: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    port_privileges: BTreeMap<String, BTreeMap<String, PortPrivilegeDef>>,
    now: i64,
    admin: CaseAdmin,
    expect: Expect,
}

#[derive(Deserialize)]
struct CaseAdmin {
    org_access: Option<OrgAccess>,
    grants: Option<Vec<Grant>>,
    msp_role: Option<CaseMspRole>,
    #[serde(default)]
    delegations: Vec<CaseDelegation>,
    #[serde(default)]
    mapped_roles: Vec<Bundle>,
}

#[derive(Deserialize)]
struct CaseMspRole {
    role: String,
    #[serde(default = "yes")]
    in_scope: bool,
}

#[derive(Deserialize)]
struct CaseDelegation {
    org_access: Option<OrgAccess>,
    #[serde(default)]
    grants: Vec<Grant>,
    expires_at: Option<i64>,
    #[serde(default = "yes")]
    approved: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Expect {
    org_access: OrgAccess,
    org_roles: Vec<String>,
    networks: BTreeMap<String, Vec<String>>,
    can: Vec<String>,
    cannot: Vec<String>,
}

fn fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/privilege-cases.json")
}

fn case_org(case: &Case) -> OrgModel {
    OrgModel::new(
        case.networks
            .iter()
            .map(|(id, tags)| {
                let ports = case.port_privileges.get(id).cloned().unwrap_or_default();
                let tags = tags.clone();
                (id.clone(), NetworkDef { tags, ports })
            })
            .collect(),
    )
}

fn case_admin(a: CaseAdmin) -> AdminInput {
    let own = (a.org_access.is_some() || a.grants.is_some()).then(|| Bundle {
        org_access: a.org_access,
        org_roles: vec![],
        grants: a.grants.unwrap_or_default(),
    });
    AdminInput {
        own,
        msp_role: a.msp_role.map(|m| MspRoleInput {
            role: m.role,
            in_scope: m.in_scope,
        }),
        delegations: (a.delegations.into_iter().enumerate())
            .map(|(i, d)| DelegationInput {
                id: format!("d{i}"),
                org_access: d.org_access,
                grants: d.grants,
                expires_at: d.expires_at,
                approved: d.approved,
            })
            .collect(),
        mapped_roles: (a.mapped_roles.into_iter().enumerate())
            .map(|(i, bundle)| MappedRole {
                name: format!("role{i}"),
                bundle,
            })
            .collect(),
    }
}

#[test]
fn every_case_of_the_fixture_passes() {
    let text = std::fs::read_to_string(fixture_path()).expect("read the fixture");
    let cases: Cases = serde_json::from_str(&text).expect("parse the fixture");
    assert!(!cases.cases.is_empty());
    let mut failures = Vec::new();
    for case in cases.cases {
        let org = case_org(&case);
        let (name, now, expect) = (case.name, case.now, case.expect);
        let admin = case_admin(case.admin);
        let eff = effective(&org, &admin, now);
        let compact = privileges(&org, &admin, now);
        let mut fail = |what: String| failures.push(format!("{name}: {what}"));
        if eff.org_access != expect.org_access {
            fail(format!("org_access {:?}", eff.org_access));
        }
        if eff.org_roles != expect.org_roles {
            fail(format!("org_roles {:?}", eff.org_roles));
        }
        if eff.networks != expect.networks {
            fail(format!("networks {:?}", eff.networks));
        }
        for (probes, want) in [(&expect.can, true), (&expect.cannot, false)] {
            for probe in probes {
                let (scope, cap) = probe.split_once(':').expect("SCOPE:capability");
                if eff.can(&org, scope, cap) != want {
                    fail(format!("can({probe}) should be {want}"));
                }
                if compact.can(scope, cap) != want {
                    fail(format!("Privileges::can({probe}) should be {want}"));
                }
                if eff.capabilities(&org, scope).contains(cap) != want {
                    fail(format!("capabilities({scope}) disagrees on {cap}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixture_is_the_shared_spec() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/privilege-cases.json");
    let Ok(shared) = std::fs::read_to_string(shared) else {
        return;
    };
    let ours = std::fs::read_to_string(fixture_path()).expect("read the fixture");
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("JSON");
    assert!(
        parse(&ours) == parse(&shared),
        "tests/fixtures/privilege-cases.json differs from shared/spec; copy it again"
    );
}

// ---------------------------------------------------------------------------------------
// Properties

const TAGS: &[&str] = &["a", "b", "c"];
const PORTS: &[&str] = &["lobby", "lab"];

fn arb_org() -> impl Strategy<Value = OrgModel> {
    let net = (
        proptest::sample::subsequence(TAGS, 0..=TAGS.len()),
        proptest::collection::btree_map(proptest::sample::select(PORTS), any::<bool>(), 0..=2),
    )
        .prop_map(|(tags, ports)| NetworkDef {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ports: (ports.into_iter())
                .map(|(n, capture)| (n.to_string(), PortPrivilegeDef { capture }))
                .collect(),
        });
    proptest::collection::vec(net, 1..=5).prop_map(|nets| {
        OrgModel::new(
            (nets.into_iter().enumerate())
                .map(|(i, d)| (format!("n{i}"), d))
                .collect(),
        )
    })
}

fn arb_grant() -> impl Strategy<Value = Grant> {
    let target = prop_oneof![
        (0..6usize).prop_map(|i| format!("network:n{i}")), // n5 never exists
        proptest::sample::select(&["tag:a", "tag:b", "tag:c", "tag:d"][..]).prop_map(String::from),
        Just("all".to_string()),
    ];
    let access = proptest::sample::select(
        &[
            "monitor-only",
            "read-only",
            "full",
            "guest-ambassador",
            "installer",
            "port:lobby",
            "port:lab",
            "port:zz",
        ][..],
    );
    (target, access).prop_map(|(t, a)| Grant {
        target: Target::parse(&t).expect("target"),
        access: NetworkAccess::parse(a).expect("access"),
    })
}

fn arb_org_access() -> impl Strategy<Value = Option<OrgAccess>> {
    proptest::option::of(proptest::sample::select(
        &[OrgAccess::None, OrgAccess::ReadOnly, OrgAccess::Full][..],
    ))
}

const ROLE_SETS: &[&[&str]] = &[&[], &["helpdesk"], &["owner"]];

fn arb_bundle() -> impl Strategy<Value = Bundle> {
    (
        // Mostly below full, so the network grants matter.
        prop_oneof![4 => Just(None), 2 => Just(Some(OrgAccess::ReadOnly)), 1 => arb_org_access()],
        proptest::sample::select(ROLE_SETS),
        proptest::collection::vec(arb_grant(), 0..5),
    )
        .prop_map(|(org_access, roles, grants)| Bundle {
            org_access,
            org_roles: roles.iter().map(|r| r.to_string()).collect(),
            grants,
        })
}

const NOW: i64 = 1_000;

fn arb_admin() -> impl Strategy<Value = AdminInput> {
    let role = proptest::option::of(
        (proptest::sample::select(MSP_ROLES), any::<bool>()).prop_map(|(r, in_scope)| {
            MspRoleInput {
                role: r.to_string(),
                in_scope,
            }
        }),
    );
    let delegation = (
        arb_org_access(),
        proptest::collection::vec(arb_grant(), 0..3),
        proptest::option::of(NOW - 2..NOW + 2),
        any::<bool>(),
    );
    (
        proptest::option::of(arb_bundle()),
        role,
        proptest::collection::vec(delegation, 0..3),
        proptest::collection::vec(arb_bundle(), 0..3),
    )
        .prop_map(|(own, msp_role, delegations, mapped)| AdminInput {
            own,
            msp_role,
            delegations: (delegations.into_iter().enumerate())
                .map(
                    |(i, (org_access, grants, expires_at, approved))| DelegationInput {
                        id: format!("d{i}"),
                        org_access,
                        grants,
                        expires_at,
                        approved,
                    },
                )
                .collect(),
            mapped_roles: (mapped.into_iter().enumerate())
                .map(|(i, bundle)| MappedRole {
                    name: format!("r{i}"),
                    bundle,
                })
                .collect(),
        })
}

/// Every scope worth asking about: the org, each network, and one that does not exist.
fn scopes(org: &OrgModel) -> Vec<String> {
    let mut s = vec!["org".to_string(), "n-unknown".to_string()];
    s.extend(org.network_ids().cloned());
    s
}

/// Every capability name, including ports nobody defines.
fn capability_names() -> Vec<String> {
    let mut names: Vec<String> = ORG_CAPABILITIES.iter().map(|s| s.to_string()).collect();
    names.extend(NETWORK_CAPABILITIES.iter().map(|s| s.to_string()));
    for port in PORTS.iter().chain(&["zz"]) {
        names.push(format!("ports.{port}.manage"));
        names.push(format!("ports.{port}.capture"));
    }
    names
}

fn all_caps(eff: &Effective, org: &OrgModel) -> BTreeMap<String, BTreeSet<String>> {
    scopes(org)
        .into_iter()
        .map(|s| (s.clone(), eff.capabilities(org, &s)))
        .collect()
}

/// A deterministic shuffle, so a failing case shrinks and replays.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

fn shuffled(admin: &AdminInput, seed: u64) -> AdminInput {
    let mut a = admin.clone();
    if let Some(own) = &mut a.own {
        shuffle(&mut own.grants, seed);
    }
    for d in &mut a.delegations {
        shuffle(&mut d.grants, seed ^ 1);
    }
    for m in &mut a.mapped_roles {
        shuffle(&mut m.bundle.grants, seed ^ 2);
    }
    shuffle(&mut a.delegations, seed ^ 3);
    shuffle(&mut a.mapped_roles, seed ^ 4);
    a
}

/// The admin without some of its grants: those whose running number has its bit set in
/// `mask`.
fn without_some(admin: &AdminInput, mask: u64) -> AdminInput {
    let mut a = admin.clone();
    let mut k = 0u32;
    let mut keep = |_: &Grant| {
        k += 1;
        mask & (1 << (k % 64)) == 0
    };
    if let Some(own) = &mut a.own {
        own.grants.retain(&mut keep);
    }
    // A delegation without org access and without grants is org full, so emptying one
    // would add privileges: keep those whole.
    for d in a.delegations.iter_mut().filter(|d| d.org_access.is_some()) {
        d.grants.retain(&mut keep);
    }
    for m in &mut a.mapped_roles {
        m.bundle.grants.retain(&mut keep);
    }
    a
}

fn org_full_somehow(admin: &mut AdminInput, how: u8) {
    match how % 3 {
        0 => admin.own.get_or_insert_with(Bundle::default).org_access = Some(OrgAccess::Full),
        1 => {
            admin.msp_role = Some(MspRoleInput {
                role: "super-user".into(),
                in_scope: true,
            })
        }
        _ => admin.delegations.push(DelegationInput {
            id: "everything".into(),
            approved: true,
            ..Default::default()
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn adding_a_grant_never_removes_a_capability(
        org in arb_org(), admin in arb_admin(), grant in arb_grant(), to in 0..3usize,
    ) {
        let before = all_caps(&effective(&org, &admin, NOW), &org);
        let mut more = admin.clone();
        match to {
            0 => more.own.get_or_insert_with(Bundle::default).grants.push(grant),
            1 => more.mapped_roles.push(MappedRole {
                name: "extra".into(),
                bundle: Bundle { grants: vec![grant], ..Default::default() },
            }),
            _ => match more.mapped_roles.first_mut() {
                Some(m) => m.bundle.grants.push(grant),
                None => more.own.get_or_insert_with(Bundle::default).grants.push(grant),
            },
        }
        let after = all_caps(&effective(&org, &more, NOW), &org);
        for (scope, caps) in &before {
            let missing: Vec<_> = caps.difference(&after[scope]).collect();
            prop_assert!(missing.is_empty(), "{scope} lost {missing:?}");
        }
    }

    #[test]
    fn more_grants_never_mean_fewer_capabilities(
        org in arb_org(), admin in arb_admin(), mask in any::<u64>(),
    ) {
        let fewer = all_caps(&effective(&org, &without_some(&admin, mask), NOW), &org);
        let all = all_caps(&effective(&org, &admin, NOW), &org);
        for (scope, caps) in &fewer {
            let missing: Vec<_> = caps.difference(&all[scope]).collect();
            prop_assert!(missing.is_empty(), "{scope} lost {missing:?}");
        }
    }

    #[test]
    fn order_of_grants_and_sources_never_matters(
        org in arb_org(), admin in arb_admin(), seed in any::<u64>(),
    ) {
        prop_assert_eq!(
            effective(&org, &admin, NOW),
            effective(&org, &shuffled(&admin, seed), NOW)
        );
    }

    #[test]
    fn org_full_yields_every_capability_everywhere(
        org in arb_org(), mut admin in arb_admin(), how in any::<u8>(),
    ) {
        org_full_somehow(&mut admin, how);
        let eff = effective(&org, &admin, NOW);
        prop_assert_eq!(eff.org_access, OrgAccess::Full);
        prop_assert!(eff.org_roles.is_empty());
        for cap in ORG_CAPABILITIES {
            prop_assert!(eff.can(&org, "org", cap), "org:{}", cap);
        }
        for (id, def) in org.iter() {
            prop_assert_eq!(&eff.networks[id], &vec!["full".to_string()]);
            let mut caps: Vec<String> = NETWORK_CAPABILITIES.iter().map(|s| s.to_string()).collect();
            for port in def.ports.keys() {
                caps.push(format!("ports.{port}.manage"));
                caps.push(format!("ports.{port}.capture"));
            }
            for cap in &caps {
                prop_assert!(eff.can(&org, id, cap), "{}:{}", id, cap);
            }
            prop_assert_eq!(eff.capabilities(&org, id), caps.into_iter().collect::<BTreeSet<_>>());
        }
    }

    #[test]
    fn a_hidden_network_yields_no_capability(org in arb_org(), admin in arb_admin()) {
        let eff = effective(&org, &admin, NOW);
        for scope in scopes(&org).iter().filter(|s| *s != "org" && !eff.is_visible(s)) {
            prop_assert!(eff.capabilities(&org, scope).is_empty());
            for cap in capability_names() {
                prop_assert!(!eff.can(&org, scope, &cap), "{}:{}", scope, cap);
            }
        }
        for (id, list) in &eff.networks {
            prop_assert!(!list.is_empty() && org.network(id).is_some());
            prop_assert!(list.windows(2).all(|w| w[0] < w[1]), "{:?}", list);
            prop_assert!(!eff.capabilities(&org, id).is_empty());
        }
    }

    #[test]
    fn explain_agrees_with_can(org in arb_org(), admin in arb_admin()) {
        let eff = effective(&org, &admin, NOW);
        for scope in scopes(&org) {
            for cap in capability_names() {
                let can = eff.can(&org, &scope, &cap);
                let why = explain(&org, &admin, NOW, &scope, &cap);
                prop_assert_eq!(why.held, can, "{}:{}", scope, cap);
                prop_assert_eq!(why.reasons.is_empty(), !can, "{}:{} {:?}", scope, cap, why);
                prop_assert_eq!(eff.capabilities(&org, &scope).contains(&cap), can);
            }
        }
    }

    #[test]
    fn compact_form_agrees_with_the_listing(org in arb_org(), admin in arb_admin()) {
        let eff = effective(&org, &admin, NOW);
        let p = privileges(&org, &admin, NOW);
        prop_assert_eq!(&p.to_effective(), &eff);
        prop_assert_eq!(p.org_access(), eff.org_access);
        prop_assert!(p.visible_networks().eq(eff.networks.keys()));
        for scope in scopes(&org) {
            prop_assert_eq!(p.is_visible(&scope), eff.is_visible(&scope));
            let listed = p.accesses(&scope);
            prop_assert_eq!(listed.as_ref(), eff.networks.get(&scope));
            prop_assert_eq!(p.capabilities(&scope), eff.capabilities(&org, &scope));
            for cap in capability_names() {
                prop_assert_eq!(p.can(&scope, &cap), eff.can(&org, &scope, &cap));
            }
        }
    }
}
