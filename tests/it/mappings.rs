//! Role mappings through the admin API (privileges.md "Where grants come from" item 4,
//! rules 1 and 5) and their assignment from directory groups and federation claims.

use crate::support::{test_app, Admin, TestApp};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};
use tenantry::core::audit::Actor;
use tenantry::core::mappings::MappingSource;

const G: &str = "globex-acme.localhost:8080";
const M: &str = "acme.localhost:8080";
const P: &str = "/api/v1/orgs/globex-acme/role-mappings";
const MSP_P: &str = "/api/v1/orgs/acme/role-mappings";
const AUDIT: &str = "/api/v1/orgs/globex-acme/audit?limit=500";

struct World {
    app: TestApp,
    boss: Admin,
    full: Admin,
    hq: String,
    east: String,
}

/// MSP acme (super-user boss), customer globex with networks HQ (tag hq, port privilege
/// lobby) and East/West (tag branch), and an org-full admin.
async fn world() -> World {
    let app = test_app().await;
    let boss = app.msp("acme", "boss@acme.example").await.admin;
    let boss = boss.expect("boss");
    let boss = app.key_for("acme", &boss.user_id, &boss.membership_id);
    let (boss, cli) = (boss.await, Actor::cli());
    app.customer("globex", "acme", "Globex").await;
    let mut ids = Vec::new();
    for (name, tag) in [("HQ", "hq"), ("East", "branch"), ("West", "branch")] {
        let tags = [tag.to_string()];
        let n = app.core.create_network("globex-acme", name, &tags, &cli);
        ids.push(n.await.expect("network").id);
    }
    let port = app
        .core
        .add_port_privilege("globex-acme", &ids[0], "lobby", false, &cli);
    port.await.expect("port privilege");
    let full = admin(
        &app,
        "globex-acme",
        "owner@globex.example",
        Some(OrgAccess::Full),
    )
    .await;
    World {
        app,
        boss,
        full,
        hq: ids[0].clone(),
        east: ids[1].clone(),
    }
}

async fn admin(app: &TestApp, tenant: &str, email: &str, org: Option<OrgAccess>) -> Admin {
    app.admin(tenant, email, org, vec![]).await
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn grant(target: &str, access: &str) -> Value {
    json!({"target": target, "access": access})
}

/// A field of every item of a list response.
fn field<'a>(list: &'a Value, name: &str) -> Vec<&'a str> {
    let items = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    items.iter().filter_map(|m| m[name].as_str()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

impl World {
    async fn on(
        &self,
        host: &str,
        method: &str,
        path: &str,
        who: &Admin,
        body: Option<Value>,
    ) -> (StatusCode, Value, HeaderMap) {
        self.app.api(method, host, path, Some(&who.key), body).await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        who: &Admin,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (s, v, _) = self.on(G, method, path, who, body).await;
        (s, v)
    }

    /// A mapping created by the org-full admin; returns its id.
    async fn mapping(&self, body: Value) -> String {
        let (s, v) = self.call("POST", P, &self.full, Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap_or_default().to_string()
    }

    /// Each case `[body, status, code]` is refused as given.
    async fn refused(&self, host: &str, method: &str, path: &str, who: &Admin, cases: Value) {
        for case in cases.as_array().cloned().unwrap_or_default() {
            let (s, v, _) = self
                .on(host, method, path, who, Some(case[0].clone()))
                .await;
            let want = (
                case[1].as_u64().unwrap_or(0),
                case[2].as_str().unwrap_or(""),
            );
            assert_eq!(
                (u64::from(s.as_u16()), code(&v)),
                want,
                "{method} {}: {v}",
                case[0]
            );
        }
    }

    async fn audit(&self) -> Vec<Value> {
        let (_, v) = self.call("GET", AUDIT, &self.full, None).await;
        v["items"].as_array().cloned().unwrap_or_default()
    }

    async fn privileges(&self, who: &Admin) -> Value {
        let (s, v) = self.call("GET", "/api/v1/me/privileges", who, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn assign(
        &self,
        user: &str,
        source: MappingSource,
        groups: &[(&str, &str)],
        claims: &[(&str, &str)],
    ) -> Vec<String> {
        let t = self
            .app
            .core
            .find_tenant("globex-acme")
            .await
            .expect("tenant");
        let (groups, claims) = (pairs(groups), pairs(claims));
        let r = self
            .app
            .core
            .assign_mapped_roles(&t, user, source, &groups, &claims);
        r.await.expect("assign")
    }
}

#[tokio::test]
async fn crud_with_etags_pagination_and_audit() {
    let w = world().await;
    let body = json!({
        "name": "netops",
        "bundle": {"grants": [grant("tag:branch", "full")]},
        "selectors": [{"kind": "group_name", "value": " Network Ops "}, {"kind": "claim", "claim": "role", "value": "netadmin"}],
    });
    let (s, created, h) = w.on(G, "POST", P, &w.full, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap_or_default().to_string();
    assert!(id.starts_with("map_"), "{id}");
    assert_eq!(created["name"], "netops");
    assert_eq!(created["bundle"]["org_access"], "none");
    assert_eq!(
        created["bundle"]["grants"],
        json!([grant("tag:branch", "full")])
    );
    let selectors = json!([
        {"kind": "claim", "claim": "role", "value": "netadmin"},
        {"kind": "group_name", "value": "Network Ops"},
    ]);
    assert_eq!(created["selectors"], selectors, "trimmed and ordered");
    assert_eq!(created["msp_role"], Value::Null);
    let etag = h["etag"].to_str().unwrap_or("").to_string();
    assert!(etag.starts_with('"'));

    let one = format!("{P}/{id}");
    let (s, v, h) = w.on(G, "GET", &one, &w.full, None).await;
    assert_eq!((s, &v), (StatusCode::OK, &created));
    assert_eq!(h["etag"].to_str().unwrap_or(""), etag);

    // A stale If-Match changes nothing; the current one goes through.
    w.app.clock.advance(5);
    let rename = Some(json!({"name": "net-ops"}));
    let key = Some(w.full.key.as_str());
    let stale = [("if-match", "\"0000\"")];
    let (s, _, _) = w
        .app
        .api_with("PATCH", G, &one, key, rename.clone(), &stale)
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let fresh = [("if-match", etag.as_str())];
    let (s, v, h) = w.app.api_with("PATCH", G, &one, key, rename, &fresh).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "net-ops");
    assert_eq!(
        v["selectors"], created["selectors"],
        "fields not given stay"
    );
    assert_eq!(v["bundle"], created["bundle"]);
    assert_eq!(v["created_at"], created["created_at"]);
    assert_ne!(v["updated_at"], created["updated_at"]);
    let etag2 = h["etag"].to_str().unwrap_or("").to_string();
    assert_ne!(etag2, etag);

    // Lists are paginated and ordered by name; `q` searches names.
    for n in ["alpha", "zulu"] {
        w.mapping(json!({"name": n})).await;
    }
    let (s, v) = w.call("GET", &format!("{P}?limit=2"), &w.full, None).await;
    assert_eq!(
        (s, field(&v, "name")),
        (StatusCode::OK, vec!["alpha", "net-ops"])
    );
    let cursor = v["next_cursor"].as_str().unwrap_or_default();
    let (_, v) = w
        .call(
            "GET",
            &format!("{P}?limit=2&cursor={cursor}"),
            &w.full,
            None,
        )
        .await;
    assert_eq!(
        (field(&v, "name"), &v["next_cursor"]),
        (vec!["zulu"], &Value::Null)
    );
    let (_, v) = w.call("GET", &format!("{P}?q=ops"), &w.full, None).await;
    assert_eq!(field(&v, "name"), ["net-ops"]);

    let (s, _, _) = w.app.api_with("DELETE", G, &one, key, None, &fresh).await;
    assert_eq!(
        s,
        StatusCode::PRECONDITION_FAILED,
        "the first ETag is stale now"
    );
    let current = [("if-match", etag2.as_str())];
    let (s, _, _) = w.app.api_with("DELETE", G, &one, key, None, &current).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = w.call("GET", &one, &w.full, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let log = w.audit().await;
    let target = format!("role_mapping:{id}");
    let find = |a: &str| {
        log.iter()
            .find(|e| e["action"] == a && e["target"] == target)
    };
    let created = find("role_mapping.create").expect("create audited");
    assert_eq!(
        created["after"]["bundle"]["grants"][0]["target"],
        "tag:branch"
    );
    let update = find("role_mapping.update").expect("update audited");
    assert_eq!(
        (&update["before"]["name"], &update["after"]["name"]),
        (&json!("netops"), &json!("net-ops"))
    );
    let delete = find("role_mapping.delete").expect("delete audited");
    assert_eq!(
        (&delete["before"]["name"], &delete["after"]),
        (&json!("net-ops"), &Value::Null)
    );
}

#[tokio::test]
async fn each_refusal_has_its_code_and_changes_nothing() {
    let w = world().await;
    let body = json!({"name": "netops", "bundle": {"org_access": "read-only"}, "selectors": [{"kind": "group_id", "value": "g-1"}]});
    let id = w.mapping(body).await;
    let other = w
        .mapping(json!({"name": "other", "selectors": [{"kind": "group_id", "value": "g-2"}]}))
        .await;
    let one = format!("{P}/{id}");
    let (_, before) = w.call("GET", &one, &w.full, None).await;
    let log_before = w.audit().await.len();
    let hq = format!("network:{}", w.hq);
    let cases = json!([
        [{"name": "Net Ops"}, 400, "invalid_name"],
        [{"bundle": {}}, 400, "invalid_name"],
        [{"name": "x", "nmae": "y"}, 400, "unknown_field"],
        [{"name": "x", "bundle": {"org_acess": "full"}}, 400, "unknown_field"],
        [{"name": "x", "selectors": [{"kind": "group_id", "value": "a", "extra": 1}]}, 400, "unknown_field"],
        [{"name": "x", "bundle": {"grants": [grant("all", "full")]}}, 400, "invalid_grant"],
        [{"name": "x", "bundle": {"grants": [grant("tag:hq", "port:lobby")]}}, 400, "invalid_grant"],
        [{"name": "x", "bundle": {"grants": [grant("network:net_nope", "full")]}}, 400, "unknown_network"],
        [{"name": "x", "bundle": {"grants": [grant(&hq, "port:cellar")]}}, 400, "unknown_port_privilege"],
        [{"name": "x", "bundle": {"org_roles": ["owner"]}}, 400, "unknown_org_role"],
        [{"name": "x", "selectors": [{"kind": "claim", "value": "admin"}]}, 400, "invalid_selector"],
        [{"name": "x", "selectors": [{"kind": "group_id", "claim": "role", "value": "a"}]}, 400, "invalid_selector"],
        [{"name": "x", "selectors": [{"kind": "email", "value": "a"}]}, 400, "invalid_selector"],
        [{"name": "x", "selectors": [{"kind": "group_name", "value": "  "}]}, 400, "invalid_selector"],
        [{"name": "x", "msp_role": "observer", "msp_scope": "all"}, 400, "msp_role_not_allowed"],
        [{"name": "netops"}, 409, "name_taken"],
        [{"name": "x", "selectors": [{"kind": "group_id", "value": "g-2"}]}, 409, "selector_in_use"],
    ]);
    w.refused(G, "POST", P, &w.full, cases).await;
    let patches = json!([
        [{"name": "other"}, 409, "name_taken"],
        [{"selectors": [{"kind": "group_id", "value": "g-9"}, {"kind": "group_id", "value": "g-2"}]}, 409, "selector_in_use"],
        [{"name": "renamed", "bundle": {"grants": [grant("all", "monitor-only")]}}, 400, "invalid_grant"],
        [{"msp_role": "observer"}, 400, "msp_role_not_allowed"],
        [{"id": "map_x"}, 400, "unknown_field"],
    ]);
    w.refused(G, "PATCH", &one, &w.full, patches).await;
    let (_, after) = w.call("GET", &one, &w.full, None).await;
    assert_eq!(after, before, "refused changes leave the mapping as it was");
    let (_, list) = w.call("GET", P, &w.full, None).await;
    assert_eq!(field(&list, "id"), [id.as_str(), other.as_str()]);
    assert_eq!(
        w.audit().await.len(),
        log_before,
        "nothing refused is audited"
    );
    // A selector freed by a change can be taken by another mapping.
    let (s, v) = w
        .call("PATCH", &one, &w.full, Some(json!({"selectors": []})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let take = json!({"selectors": [{"kind": "group_id", "value": "g-1"}]});
    let (s, v) = w
        .call("PATCH", &format!("{P}/{other}"), &w.full, Some(take))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn rule_1_readers_read_and_only_org_full_admins_change() {
    let w = world().await;
    let id = w.mapping(json!({"name": "netops"})).await;
    let one = format!("{P}/{id}");
    let reader = admin(
        &w.app,
        "globex-acme",
        "ro@globex.example",
        Some(OrgAccess::ReadOnly),
    )
    .await;
    let (s, v) = w.call("GET", P, &reader, None).await;
    assert_eq!((s, field(&v, "id")), (StatusCode::OK, vec![id.as_str()]));
    let (s, _) = w.call("GET", &one, &reader, None).await;
    assert_eq!(s, StatusCode::OK);
    let mine = Some(json!({"name": "mine"}));
    for (method, path, body) in [
        ("POST", P, mine.clone()),
        ("PATCH", one.as_str(), mine),
        ("DELETE", one.as_str(), None),
    ] {
        let (s, v) = w.call(method, path, &reader, body).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "org_full_required"),
            "{method}"
        );
    }
    // Full access on one network is not org access: mappings stay closed.
    let east = Grant {
        target: Target::Network(w.east.clone()),
        access: NetworkAccess::Full,
    };
    let net_admin = w
        .app
        .admin("globex-acme", "net@globex.example", None, vec![east])
        .await;
    let (s, v) = w.call("GET", P, &net_admin, None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "insufficient_privileges")
    );
    let (s, v) = w
        .call("POST", P, &net_admin, Some(json!({"name": "mine"})))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    // The MSP's super-user manages the customer's mappings from the MSP host, audited
    // as an MSP user.
    let body = json!({"name": "from-msp", "bundle": {"org_access": "full"}});
    let (s, v, _) = w.on(M, "POST", P, &w.boss, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let msp_log = "/api/v1/orgs/globex-acme/audit?msp_only=true";
    let (_, log, _) = w.on(M, "GET", msp_log, &w.boss, None).await;
    assert_eq!(log["items"][0]["action"], "role_mapping.create");
    assert_eq!(log["items"][0]["actor_msp"], "acme");
}

#[tokio::test]
async fn rule_5_msp_roles_come_only_from_super_users() {
    let w = world().await;
    w.app.customer("initech", "acme", "Initech").await;
    let local = admin(&w.app, "acme", "local@acme.example", Some(OrgAccess::Full)).await;
    let observers = json!({"name": "observers", "msp_role": "observer", "msp_scope": ["globex-acme"],
        "selectors": [{"kind": "claim", "claim": "role", "value": "observer"}]});
    let cases = json!([[observers.clone(), 403, "exceeds_own_privileges"]]);
    w.refused(M, "POST", MSP_P, &local, cases).await;
    // An org-full admin of the MSP without an MSP role still maps plain bundles.
    let body = json!({"name": "staff-ro", "bundle": {"org_access": "read-only"}});
    let (s, v, _) = w.on(M, "POST", MSP_P, &local, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let cases = json!([
        [{"name": "x", "msp_role": "owner", "msp_scope": "all"}, 400, "invalid_msp_role"],
        [{"name": "x", "msp_role": "observer"}, 400, "invalid_msp_scope"],
        [{"name": "x", "msp_role": "observer", "msp_scope": []}, 400, "invalid_msp_scope"],
        [{"name": "x", "msp_scope": "all"}, 400, "invalid_msp_scope"],
        [{"name": "x", "msp_role": "super-user", "msp_scope": ["globex-acme"]}, 400, "invalid_msp_scope"],
        [{"name": "x", "msp_role": "observer", "msp_scope": ["umbrella-acme"]}, 400, "unknown_customer"],
        [{"name": "x", "msp_role": "observer", "msp_scope": ["acme"]}, 400, "unknown_customer"],
    ]);
    w.refused(M, "POST", MSP_P, &w.boss, cases).await;
    let (s, v, _) = w.on(M, "POST", MSP_P, &w.boss, Some(observers)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (&v["msp_role"], &v["msp_scope"]),
        (&json!("observer"), &json!(["globex-acme"]))
    );
    let one = format!("{MSP_P}/{}", v["id"].as_str().unwrap_or_default());
    let supers = json!({"name": "supers", "msp_role": "super-user"});
    let (s, v, _) = w.on(M, "POST", MSP_P, &w.boss, Some(supers)).await;
    assert_eq!(
        (s, &v["msp_scope"]),
        (StatusCode::CREATED, &json!("all")),
        "{v}"
    );
    // Changing the MSP role or scope is rule 5 again; other fields are not.
    let cases = json!([[{"msp_scope": "all"}, 403, "exceeds_own_privileges"]]);
    w.refused(M, "PATCH", &one, &local, cases).await;
    let (s, v, _) = w
        .on(M, "PATCH", &one, &local, Some(json!({"name": "watchers"})))
        .await;
    assert_eq!(
        (s, &v["msp_scope"]),
        (StatusCode::OK, &json!(["globex-acme"])),
        "{v}"
    );
    let both = json!({"msp_scope": ["initech-acme", "globex-acme"]});
    let (_, v, _) = w.on(M, "PATCH", &one, &w.boss, Some(both)).await;
    assert_eq!(v["msp_scope"], json!(["globex-acme", "initech-acme"]));
    let (s, v, _) = w
        .on(M, "PATCH", &one, &w.boss, Some(json!({"msp_role": null})))
        .await;
    assert_eq!(
        (s, &v["msp_role"], &v["msp_scope"]),
        (StatusCode::OK, &Value::Null, &Value::Null)
    );
}

#[tokio::test]
async fn assignment_from_groups_and_claims_drives_privileges_at_the_next_request() {
    let w = world().await;
    let netops = w
        .mapping(
            json!({"name": "netops", "bundle": {"grants": [grant("tag:branch", "full")]},
            "selectors": [{"kind": "group_name", "value": "Network Ops"}]}),
        )
        .await;
    w.mapping(
        json!({"name": "readers", "bundle": {"org_access": "read-only"},
        "selectors": [{"kind": "group_id", "value": "grp-42"}]}),
    )
    .await;
    let hq = format!("network:{}", w.hq);
    w.mapping(
        json!({"name": "hq-lobby", "bundle": {"grants": [grant(&hq, "port:lobby")]},
        "selectors": [{"kind": "claim", "claim": "role", "value": "netadmin"}]}),
    )
    .await;
    // An admin with some minimal access of their own, so the org lists them.
    let own = Grant {
        target: Target::Network(w.hq.clone()),
        access: NetworkAccess::MonitorOnly,
    };
    let d = w
        .app
        .admin("globex-acme", "dir@globex.example", None, vec![own])
        .await;
    let (east, dir, fed) = (
        w.east.clone(),
        MappingSource::Directory,
        MappingSource::Federation,
    );
    assert!(w.privileges(&d).await["networks"].get(&east).is_none());

    let log = w.audit().await.len();
    let got = w
        .assign(
            &d.user_id,
            dir,
            &[("grp-1", "Network Ops"), ("grp-7", "Sales")],
            &[],
        )
        .await;
    assert_eq!(got, ["netops"]);
    let entries = w.audit().await;
    assert_eq!(
        (entries.len(), &entries[0]["action"]),
        (log + 1, &json!("user.roles_mapped"))
    );
    assert_eq!(
        entries[0]["after"],
        json!({"source": "directory", "mappings": ["netops"]})
    );
    // The same assignment again changes nothing and logs nothing.
    w.assign(&d.user_id, dir, &[("grp-1", "Network Ops")], &[])
        .await;
    assert_eq!(w.audit().await.len(), log + 1);

    let explain = "/api/v1/orgs/globex-acme/explain";
    let q = format!(
        "{explain}?admin={}&network={east}&capability=network.config.edit",
        d.id
    );
    let (s, v) = w.call("GET", &q, &w.full, None).await;
    assert_eq!((s, &v["held"]), (StatusCode::OK, &json!(true)), "{v}");
    assert_eq!(
        v["reasons"][0]["source"],
        json!({"kind": "mapped_role", "name": "netops"})
    );
    assert_eq!(v["reasons"][0]["grant"], "tag:branch=full");
    assert_eq!(w.privileges(&d).await["networks"][&east], json!(["full"]));

    // A changed bundle counts at the next request.
    let one = format!("{P}/{netops}");
    let change = json!({"bundle": {"grants": [grant("tag:branch", "monitor-only")]}});
    let (s, v) = w.call("PATCH", &one, &w.full, Some(change)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        w.privileges(&d).await["networks"][&east],
        json!(["monitor-only"])
    );
    let (_, v) = w.call("GET", &q, &w.full, None).await;
    assert_eq!(v["held"], false);

    // Group id and claim selectors; each source replaces only its own rows.
    let groups = [("grp-1", "Network Ops"), ("grp-42", "Renamed group")];
    assert_eq!(
        w.assign(&d.user_id, dir, &groups, &[]).await,
        ["netops", "readers"]
    );
    assert_eq!(w.privileges(&d).await["org_access"], "read-only");
    let claims = [("role", "netadmin"), ("role", "other")];
    assert_eq!(w.assign(&d.user_id, fed, &[], &claims).await, ["hq-lobby"]);
    let p = w.privileges(&d).await;
    assert_eq!(p["org_access"], "read-only", "directory roles stay: {p}");
    let lobby = |p: &Value| {
        p["networks"][&w.hq]
            .as_array()
            .is_some_and(|a| a.contains(&json!("port:lobby")))
    };
    assert!(lobby(&p), "{p}");
    let q = format!(
        "{explain}?admin={}&network={}&capability=ports.lobby.manage",
        d.id, w.hq
    );
    let (_, v) = w.call("GET", &q, &w.full, None).await;
    assert_eq!(
        v["reasons"][0]["source"],
        json!({"kind": "mapped_role", "name": "hq-lobby"}),
        "{v}"
    );
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    let (groups, claims) = (pairs(&[("grp-42", "x")]), pairs(&[("role", "netadmin")]));
    let found = w
        .app
        .core
        .mappings_for_selectors(&t, &groups, &claims)
        .await
        .expect("lookup");
    let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["hq-lobby", "readers"]);

    // Deleting a mapping removes what it gave at once: East is back to what `readers`
    // gives (org read-only).
    let (s, _) = w.call("DELETE", &one, &w.full, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        w.privileges(&d).await["networks"][&east],
        json!(["read-only"])
    );
    assert!(w.assign(&d.user_id, dir, &[], &[]).await.is_empty());
    let p = w.privileges(&d).await;
    assert_eq!(p["org_access"], "none", "{p}");
    assert!(p["networks"].get(&east).is_none(), "{p}");
    assert!(lobby(&p), "federation rows stay: {p}");
}

#[tokio::test]
async fn another_tenants_mapping_is_not_found() {
    let w = world().await;
    let body = json!({"name": "netops", "selectors": [{"kind": "group_id", "value": "g-1"}]});
    let id = w.mapping(body.clone()).await;
    w.app.customer("initech", "acme", "Initech").await;
    let other = admin(
        &w.app,
        "initech-acme",
        "x@initech.example",
        Some(OrgAccess::Full),
    )
    .await;
    let ih = "initech-acme.localhost:8080";
    let theirs = format!("/api/v1/orgs/initech-acme/role-mappings/{id}");
    let rename = Some(json!({"name": "mine"}));
    for (method, body) in [("GET", None), ("PATCH", rename), ("DELETE", None)] {
        let (s, _, _) = w.on(ih, method, &theirs, &other, body.clone()).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} through initech");
        let (s, _, _) = w.on(G, method, &theirs, &w.full, body).await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "{method} naming initech on globex's host"
        );
    }
    // The same name and selector are free in another tenant; selectors match per tenant.
    let path = "/api/v1/orgs/initech-acme/role-mappings";
    let (s, v, _) = w.on(ih, "POST", path, &other, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = w.call("GET", &format!("{P}/{id}"), &w.full, None).await;
    assert_eq!((s, &v["name"]), (StatusCode::OK, &json!("netops")));
    // A user of another tenant is not assigned here.
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    let groups = pairs(&[("g-1", "G")]);
    let r =
        w.app
            .core
            .assign_mapped_roles(&t, &other.user_id, MappingSource::Directory, &groups, &[]);
    let r = r.await;
    assert!(matches!(r, Err(tenantry::error::Error::NotFound)), "{r:?}");
}
