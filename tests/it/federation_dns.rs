//! Domain verification by DNS TXT `_tenantry.{domain}` (decisions.md "SAML and
//! federation"), against a real DNS server: a small UDP responder on 127.0.0.1 (answers
//! encoded with hickory-proto) that the server is pointed at (`dns_server`). Verified on a
//! matching record; refused, with nothing changed, on a different value, NXDOMAIN, a name
//! without TXT, a server that never answers; org full only; another tenant's domain of the
//! same name untouched; the CLI's check and its manual marking.

use crate::support::{test_app, TestApp};
use axum::http::StatusCode;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tenantry::app::AppState;
use tenantry::authz::OrgAccess;

/// What the test server answers for a name.
#[derive(Clone, Debug)]
pub(crate) enum Answer {
    /// TXT records, each given as its character-strings.
    Txt(Vec<Vec<String>>),
    /// NOERROR with no answer: the name exists, without TXT.
    Empty,
    /// Never answer (the resolver times out).
    Silent,
}

/// A DNS server on 127.0.0.1 (UDP), on its own thread: names it does not know are
/// NXDOMAIN. Records can change while it runs; it counts the questions it got.
pub(crate) struct TestDns {
    pub(crate) addr: SocketAddr,
    zone: Arc<Mutex<HashMap<String, Answer>>>,
    pub(crate) queries: Arc<AtomicUsize>,
}

impl TestDns {
    pub(crate) fn start() -> TestDns {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
        let addr = socket.local_addr().expect("addr");
        let zone: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let queries = Arc::new(AtomicUsize::new(0));
        let (z, q) = (zone.clone(), queries.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                q.fetch_add(1, Ordering::SeqCst);
                let Some(query) = req.queries().first().cloned() else {
                    continue;
                };
                let name = query.name().to_ascii().to_ascii_lowercase();
                let answer = z
                    .lock()
                    .expect("zone")
                    .get(name.trim_end_matches('.'))
                    .cloned();
                let mut resp = Message::new();
                resp.set_id(req.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(req.op_code())
                    .set_recursion_desired(req.recursion_desired())
                    .set_recursion_available(true)
                    .set_authoritative(true)
                    .add_query(query.clone());
                match answer {
                    Some(Answer::Silent) => continue,
                    Some(Answer::Empty) => {}
                    Some(Answer::Txt(records)) => {
                        for strings in records {
                            resp.add_answer(Record::from_rdata(
                                query.name().clone(),
                                60,
                                RData::TXT(TXT::new(strings)),
                            ));
                        }
                    }
                    None => {
                        resp.set_response_code(ResponseCode::NXDomain);
                    }
                }
                if let Ok(bytes) = resp.to_vec() {
                    let _ = socket.send_to(&bytes, peer);
                }
            }
        });
        TestDns {
            addr,
            zone,
            queries,
        }
    }

    pub(crate) fn set(&self, name: &str, answer: Answer) {
        self.zone
            .lock()
            .expect("zone")
            .insert(name.to_ascii_lowercase(), answer);
    }

    /// One TXT record of one string.
    pub(crate) fn txt(&self, name: &str, value: &str) {
        self.set(name, Answer::Txt(vec![vec![value.to_string()]]));
    }
}

/// The test app asking `dns` when verifying domains.
pub(crate) async fn app_with_dns(dns: &TestDns) -> TestApp {
    let mut app = test_app().await;
    app.core = app.core.clone().with_dns_server(Some(dns.addr));
    app.state = AppState::new(app.core.clone());
    app
}

const G: &str = "globex-acme.localhost:8080";
const I: &str = "initech-acme.localhost:8080";

async fn tenants(app: &TestApp) {
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
}

async fn connection(app: &TestApp, host: &str, org: &str, key: &str, domains: &[&str]) -> Value {
    let (s, c, _) = app
        .api(
            "POST",
            host,
            &format!("/api/v1/orgs/{org}/federation"),
            Some(key),
            Some(json!({
                "name": "corp",
                "kind": "oidc",
                "issuer": "https://idp.corp.example",
                "client_id": "tenantry",
                "domains": domains,
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c
}

/// The published record's value for `domain` in a connection.
fn expected(c: &Value, domain: &str) -> String {
    let d = c["domains"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["domain"] == domain))
        .unwrap_or_else(|| panic!("{domain} in {c}"));
    assert_eq!(d["dns_record"]["name"], format!("_tenantry.{domain}"));
    assert_eq!(d["dns_record"]["type"], "TXT");
    d["dns_record"]["value"]
        .as_str()
        .expect("value")
        .to_string()
}

async fn domain_state(app: &TestApp, host: &str, org: &str, key: &str, domain: &str) -> Value {
    let (s, c, _) = app
        .api(
            "GET",
            host,
            &format!("/api/v1/orgs/{org}/federation/corp"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c["domains"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["domain"] == domain).cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_domain_is_verified_only_by_its_own_txt_record() {
    let dns = TestDns::start();
    let app = app_with_dns(&dns).await;
    tenants(&app).await;
    let full = app
        .admin(
            "globex-acme",
            "full@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let ro = app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let domains = [
        "corp.example",
        "wrong.example",
        "gone.example",
        "bare.example",
        "slow.example",
    ];
    let c = connection(&app, G, "globex-acme", &full.key, &domains).await;
    let id = c["id"].as_str().expect("id").to_string();
    let value = expected(&c, "corp.example");
    let token = value
        .strip_prefix("tenantry-verification=")
        .expect("prefix");
    assert_eq!(token.len(), 32, "{value}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{value}");
    assert_ne!(value, expected(&c, "wrong.example"), "one value per domain");
    assert_eq!(c["domains"][0]["verified"], false);
    assert_eq!(c["domains"][0]["verified_by"], Value::Null);

    // Published: a record split in two strings (joined), beside an unrelated one.
    let (head, tail) = value.split_at(10);
    dns.set(
        "_tenantry.corp.example",
        Answer::Txt(vec![
            vec!["v=spf1 -all".into()],
            vec![head.into(), tail.into()],
        ]),
    );
    dns.txt("_tenantry.wrong.example", &format!("{value}0"));
    dns.set("_tenantry.bare.example", Answer::Empty);
    dns.set("_tenantry.slow.example", Answer::Silent);
    let verify = |domain: &str, key: &str| {
        let path = format!("/api/v1/orgs/globex-acme/federation/{id}/domains/{domain}/verify");
        let key = key.to_string();
        let app = &app;
        async move { app.api("POST", G, &path, Some(&key), None).await }
    };

    // Org read-only: refused before DNS is asked.
    let (s, e, _) = verify("corp.example", &ro.key).await;
    assert_eq!(
        (s, &e["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("org_full_required")),
        "{e}"
    );
    assert_eq!(dns.queries.load(Ordering::SeqCst), 0);

    for (domain, code, says) in [
        ("wrong.example", "dns_record_mismatch", "none of them"),
        ("gone.example", "dns_record_missing", "NXDOMAIN"),
        ("bare.example", "dns_record_missing", "no TXT record"),
    ] {
        let (s, e, _) = verify(domain, &full.key).await;
        assert_eq!(
            (s, &e["error"]["code"]),
            (StatusCode::CONFLICT, &json!(code))
        );
        let msg = e["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{domain}: {msg}");
        assert!(msg.contains("nothing was changed"), "{msg}");
        let d = domain_state(&app, G, "globex-acme", &full.key, domain).await;
        assert_eq!(d["verified"], false, "{domain}: {d}");
    }
    let started = std::time::Instant::now();
    let (s, e, _) = verify("slow.example", &full.key).await;
    assert_eq!(
        (s, &e["error"]["code"]),
        (StatusCode::CONFLICT, &json!("dns_unavailable")),
        "{e}"
    );
    assert!(started.elapsed().as_secs() < 8, "a short timeout");
    let d = domain_state(&app, G, "globex-acme", &full.key, "slow.example").await;
    assert_eq!(d["verified"], false);

    // Not one of this connection's domains, or no domain at all: not found.
    for domain in ["nope.example", "not%20a%20domain", "-x.example"] {
        let (s, _, _) = verify(domain, &full.key).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{domain}");
    }
    let asked = dns.queries.load(Ordering::SeqCst);

    let (s, d, _) = verify("corp.example", &full.key).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["domain"], "corp.example");
    assert_eq!(d["verified"], true);
    assert_eq!(d["verified_by"], "dns");
    assert!(d["verified_at"].as_str().is_some(), "{d}");
    assert_eq!(dns.queries.load(Ordering::SeqCst), asked + 1);
    let listed = domain_state(&app, G, "globex-acme", &full.key, "corp.example").await;
    assert_eq!(listed, d);
    // Checked again: answered as it is, DNS not asked, no second audit entry.
    let (s, again, _) = verify("corp.example", &full.key).await;
    assert_eq!((s, &again), (StatusCode::OK, &d));
    assert_eq!(dns.queries.load(Ordering::SeqCst), asked + 1);

    let (_, audit, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/audit?limit=100",
            Some(&full.key),
            None,
        )
        .await;
    let verified: Vec<&Value> = audit["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["action"] == "federation.domain_verified")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(verified.len(), 1, "{audit}");
    assert!(verified[0].to_string().contains("corp.example"));
    assert!(verified[0].to_string().contains("\"dns\""));
}

#[tokio::test]
async fn another_tenants_domain_of_the_same_name_is_untouched() {
    let dns = TestDns::start();
    let app = app_with_dns(&dns).await;
    tenants(&app).await;
    let globex = app
        .admin(
            "globex-acme",
            "full@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let initech = app
        .admin(
            "initech-acme",
            "full@initech.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let g = connection(&app, G, "globex-acme", &globex.key, &["shared.example"]).await;
    let i = connection(&app, I, "initech-acme", &initech.key, &["shared.example"]).await;
    let (gv, iv) = (
        expected(&g, "shared.example"),
        expected(&i, "shared.example"),
    );
    assert_ne!(gv, iv, "each tenant proves control with its own value");
    dns.txt("_tenantry.shared.example", &gv);

    // Initech's record is not there: refused, and globex's value does not count.
    let ipath = format!(
        "/api/v1/orgs/initech-acme/federation/{}/domains/shared.example/verify",
        i["id"].as_str().expect("id")
    );
    let (s, e, _) = app.api("POST", I, &ipath, Some(&initech.key), None).await;
    assert_eq!(
        (s, &e["error"]["code"]),
        (StatusCode::CONFLICT, &json!("dns_record_mismatch")),
        "{e}"
    );
    // Globex cannot reach initech's connection, from its host or by naming initech.
    let (s, _, _) = app.api("POST", G, &ipath, Some(&globex.key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let cross = format!(
        "/api/v1/orgs/globex-acme/federation/{}/domains/shared.example/verify",
        i["id"].as_str().expect("id")
    );
    let (s, _, _) = app.api("POST", G, &cross, Some(&globex.key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another tenant's connection");

    let gpath = format!(
        "/api/v1/orgs/globex-acme/federation/{}/domains/shared.example/verify",
        g["id"].as_str().expect("id")
    );
    let (s, d, _) = app.api("POST", G, &gpath, Some(&globex.key), None).await;
    assert_eq!((s, &d["verified"]), (StatusCode::OK, &json!(true)), "{d}");
    let theirs = domain_state(&app, I, "initech-acme", &initech.key, "shared.example").await;
    assert_eq!(theirs["verified"], false, "{theirs}");
}

fn run(app: &TestApp, dns: Option<&TestDns>, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut cmd = app.env.command();
    if let Some(d) = dns {
        cmd.env("TENANTRY_DNS_SERVER", d.addr.to_string());
    }
    let out = cmd.args(args).output().expect("run tenantry");
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_checks_dns_or_marks_by_hand() {
    let dns = TestDns::start();
    let app = app_with_dns(&dns).await;
    tenants(&app).await;
    let full = app
        .admin(
            "globex-acme",
            "full@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let c = connection(
        &app,
        G,
        "globex-acme",
        &full.key,
        &["corp.example", "hand.example"],
    )
    .await;
    let check = [
        "federation",
        "check-domain",
        "--tenant",
        "globex-acme",
        "--connection",
        "corp",
        "corp.example",
    ];
    let (code, _, err) = run(&app, Some(&dns), &check);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("dns_record_missing"), "{err}");
    dns.txt("_tenantry.corp.example", &expected(&c, "corp.example"));
    let (code, _, err) = run(
        &app,
        Some(&dns),
        &[
            "--dns-server",
            "nonsense",
            "federation",
            "list",
            "--tenant",
            "globex-acme",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("dns_server"), "{err}");
    // No DNS server at the address: refused, nothing changed.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port");
    let mut cmd = app.env.command();
    let out = cmd
        .env("TENANTRY_DNS_SERVER", closed.to_string())
        .args(check)
        .output()
        .expect("run tenantry");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("dns_unavailable"), "{err}");
    let (code, d, err) = run(&app, Some(&dns), &check);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (&d["verified"], &d["verified_by"]),
        (&json!(true), &json!("dns"))
    );

    let (code, d, err) = run(
        &app,
        None,
        &[
            "federation",
            "verify-domain",
            "--tenant",
            "globex-acme",
            "hand.example",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (&d["verified"], &d["verified_by"]),
        (&json!(true), &json!("cli"))
    );
}
