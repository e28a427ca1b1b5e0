//! Privilege engine tests: the vectors of privilege-cases.json, properties of the engine
//! (privileges.md "Combining"), rules 5 and 6, and explanations.

use proptest::prelude::*;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tenantry::authz::{
    effective, explain, may_grant, may_grant_org_access, may_unlock, AdminInput, Bundle,
    DelegationInput, Effective, Grant, MappedRole, MspRoleInput, NetworkAccess, NetworkDef,
    OrgAccess, OrgModel, PortPrivilegeDef, Source, Target, MSP_ROLES, NETWORK_CAPABILITIES,
    ORG_CAPABILITIES,
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
        let eff = effective(&org, &case_admin(case.admin), now);
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
}

// ---------------------------------------------------------------------------------------
// Rules 5 and 6, and explanations

/// n1 [branch] with port privilege lobby (no capture), n2 [branch, east], n3 [], n4 [west].
fn org() -> OrgModel {
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

fn g(s: &str) -> Grant {
    Grant::parse(s).expect("grant")
}

fn own(org_access: OrgAccess, grants: &[&str]) -> AdminInput {
    AdminInput {
        own: Some(Bundle {
            org_access: Some(org_access),
            org_roles: vec![],
            grants: grants.iter().map(|s| g(s)).collect(),
        }),
        ..Default::default()
    }
}

fn eff(org_access: OrgAccess, grants: &[&str]) -> Effective {
    effective(&org(), &own(org_access, grants), NOW)
}

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
