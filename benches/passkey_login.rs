//! Passkey sign-ins per second end to end (issue 5): a release build of the whole app on
//! SQLite in a temp dir, served by `app::serve` on 127.0.0.1 with the system clock, and
//! CONNS clients that each loop `POST /login/start` -> sign with a software passkey ->
//! `POST /login/finish` for DURATION seconds. decisions.md "Passkeys": target >= 1,500/s,
//! or at least 0.4 x the SQLite commit rate measured in the same run.
//!
//! Baselines measured in the same run, as decisions.md "General" asks: SQLite's commit
//! rate through the server's own `Store` (same pool, WAL, `synchronous=NORMAL`, temp dir),
//! raw HTTP overhead (`GET /healthz` with the same client and connections) and the
//! client's own signing rate (the software authenticator signs in this process, on the
//! same cores as the server).
//!
//! The clients are lean software authenticators (benches/support/authenticator.rs: "none"
//! attestation, ES256 assertions with OpenSSL, the user handle returned like a resident
//! key), so the load generator's own cost stays small on the 2 shared cores. Nothing the
//! server verifies is changed.
//!
//! Environment: DURATION (seconds per phase, default 10), CONNS (concurrent clients, one
//! admin and passkey each, default 16). Every failed login is counted and printed by
//! step, status and error code; the run exits non-zero if any login failed.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tenantry::config::{Database, SqliteSynchronous};
use tenantry::core::admins::AdminSpec;
use tenantry::core::audit::Actor;
use tenantry::core::tenants::NewTenant;
use tenantry::core::Core;
use tenantry::store::Store;

#[path = "support/authenticator.rs"]
mod authenticator;
use authenticator::Device;
#[path = "support/server.rs"]
mod server;
use server::{start_server, Server};

const MSP: &str = "acme";
const CUSTOMER: &str = "globex";
const TENANT: &str = "globex-acme";
const TENANT_HOST: &str = "globex-acme.localhost";
/// How long the single-threaded signing baseline runs at most.
const SIGN_BASELINE_MAX: Duration = Duration::from_secs(3);

fn env_number(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0)
            .unwrap_or_else(|| panic!("{name} must be a positive number, not '{v}'")),
        _ => default,
    }
}

/// One HTTP client per simulated browser (its own keep-alive connection), with the
/// tenant's host resolved to the listener.
fn http_client(addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .resolve(TENANT_HOST, addr)
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The server's process CPU time (user + system) in seconds, from /proc.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some((utime + stime) / hz)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------
// Baseline: SQLite commits through the server's own Store.

/// Tiny autocommit INSERTs through `Store::connect` (the server's pool size and pragmas)
/// on a file in a temp dir: `tasks` concurrent writers for `duration`. Returns commits/s.
async fn sqlite_commits(tasks: usize, duration: Duration) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir for the commit baseline");
    let store = Store::connect(
        &Database::Sqlite(dir.path().join("commits.db")),
        SqliteSynchronous::Normal,
    )
    .await
    .expect("open the baseline database");
    sqlx::query(
        "CREATE TABLE bench (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, v TEXT NOT NULL)",
    )
    .execute(store.pool())
    .await
    .expect("create the baseline table");
    let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("journal mode");
    assert_eq!(
        mode.0.to_ascii_lowercase(),
        "wal",
        "the baseline runs in WAL"
    );
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                sqlx::query("INSERT INTO bench (tenant, v) VALUES ($1, $2)")
                    .bind(format!("task{t}"))
                    .bind(format!("value {n} of a row about as long as a session row"))
                    .execute(store.pool())
                    .await
                    .expect("baseline insert");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.expect("baseline task");
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    rate
}

// ---------------------------------------------------------------------------------------
// The server and its world.

/// An MSP, its customer and `n` admins of the customer; returns their enrolment paths.
async fn world(core: &Core, n: usize) -> Vec<String> {
    core.create_msp(
        NewTenant {
            name: MSP,
            display_name: None,
            admin_email: Some("boss@acme.example"),
        },
        &Actor::cli(),
    )
    .await
    .expect("create the MSP");
    core.create_customer(
        NewTenant {
            name: CUSTOMER,
            display_name: Some("Globex"),
            admin_email: None,
        },
        MSP,
        &Actor::cli(),
    )
    .await
    .expect("create the customer");
    let mut paths = Vec::new();
    for i in 0..n {
        let spec = AdminSpec::new(
            &format!("admin{i}@globex.example"),
            None,
            Some(tenantry::authz::OrgAccess::Full),
            vec![],
        )
        .expect("admin spec");
        let created = core
            .add_admin(TENANT, spec, &Actor::cli())
            .await
            .expect("add admin");
        let url = url::Url::parse(&created.enrolment_url).expect("enrolment url");
        paths.push(url.path().to_string());
    }
    paths
}

struct Reply {
    status: u16,
    body: Value,
    text: String,
    cookie: bool,
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    origin: &str,
    path: &str,
    body: &Value,
) -> Result<Reply, String> {
    let r = client
        .post(format!("{base}{path}"))
        .header("origin", origin)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = r.status().as_u16();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("tenantry_session=") && v.len() > 20);
    let text = r.text().await.map_err(|e| format!("body: {e}"))?;
    Ok(Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        cookie,
    })
}

/// Enrol one device through the real endpoints, then check that it can sign in.
async fn enrol(client: &reqwest::Client, server: &Server, path: &str) -> Device {
    let origin = server.core.issuer(TENANT);
    let base = origin.as_str();
    let mut dev = Device::new();
    let start = post(client, base, &origin, &format!("{path}/start"), &json!({}))
        .await
        .expect("enrolment start");
    assert_eq!(start.status, 200, "enrolment start: {}", start.text);
    let cred = dev.register(&origin, &start.body["options"]);
    let done = post(
        client,
        base,
        &origin,
        &format!("{path}/finish"),
        &json!({"ceremony": start.body["ceremony"], "credential": cred, "name": "bench"}),
    )
    .await
    .expect("enrolment finish");
    assert_eq!(done.status, 200, "enrolment finish: {}", done.text);
    assert_eq!(done.body["status"], "registered", "{}", done.text);
    dev
}

// ---------------------------------------------------------------------------------------
// Load.

#[derive(Default)]
struct Tally {
    ok: u64,
    login_latency: Vec<Duration>,
    finish_latency: Vec<Duration>,
    signing: Duration,
    /// (step, status, error code) -> (count, first message)
    failures: BTreeMap<String, (u64, String)>,
}

impl Tally {
    fn fail(&mut self, key: String, message: String) {
        let e = self.failures.entry(key).or_insert((0, message));
        e.0 += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.login_latency.extend(other.login_latency);
        self.finish_latency.extend(other.finish_latency);
        self.signing += other.signing;
        for (k, (n, m)) in other.failures {
            let e = self.failures.entry(k).or_insert((0, m));
            e.0 += n;
        }
    }

    fn failed(&self) -> u64 {
        self.failures.values().map(|(n, _)| n).sum()
    }
}

fn failure_key(step: &str, r: &Reply) -> String {
    let code = r.body["error"].as_str().unwrap_or("-");
    format!("{step} {} {code}", r.status)
}

/// One simulated browser: sign in over and over until `deadline`.
async fn login_loop(
    client: reqwest::Client,
    mut dev: Device,
    origin: String,
    deadline: Instant,
) -> Tally {
    let mut t = Tally::default();
    while Instant::now() < deadline {
        let t0 = Instant::now();
        let start = match post(&client, &origin, &origin, "/login/start", &json!({})).await {
            Ok(r) if r.status == 200 => r,
            Ok(r) => {
                t.fail(failure_key("start", &r), r.text);
                continue;
            }
            Err(e) => {
                t.fail("start transport".into(), e);
                continue;
            }
        };
        let s0 = Instant::now();
        let cred = dev.assert(&origin, &start.body["options"]);
        t.signing += s0.elapsed();
        let cred = match cred {
            Ok(c) => c,
            Err(e) => {
                t.fail("client signing".into(), e);
                continue;
            }
        };
        let f0 = Instant::now();
        let body = json!({"ceremony": start.body["ceremony"], "credential": cred});
        match post(&client, &origin, &origin, "/login/finish", &body).await {
            Ok(r) if r.status == 200 && r.body["status"] == "signed in" && r.cookie => {
                t.ok += 1;
                t.finish_latency.push(f0.elapsed());
                t.login_latency.push(t0.elapsed());
            }
            Ok(r) if r.status == 200 => {
                t.fail("finish 200 without a session".into(), r.text);
            }
            Ok(r) => t.fail(failure_key("finish", &r), r.text),
            Err(e) => t.fail("finish transport".into(), e),
        }
    }
    t
}

/// `GET /healthz` on the tenant host with the same client set-up: (req/s, non-200s).
async fn healthz(addr: SocketAddr, base: &str, conns: usize, duration: Duration) -> (f64, u64) {
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..conns {
        let client = http_client(addr);
        let url = format!("{base}/healthz");
        handles.push(tokio::spawn(async move {
            let (mut ok, mut bad) = (0u64, 0u64);
            while Instant::now() < deadline {
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1;
                    }
                    _ => bad += 1,
                }
            }
            (ok, bad)
        }));
    }
    let (mut ok, mut bad) = (0, 0);
    for h in handles {
        let (o, b) = h.await.expect("healthz task");
        ok += o;
        bad += b;
    }
    (ok as f64 / start.elapsed().as_secs_f64(), bad)
}

fn main() {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without
    // it: then a short smoke run (two clients, half a second per phase) proves the
    // benchmark still works without costing the test suite a minute.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (duration, conns) = if measuring {
        (
            Duration::from_secs_f64(env_number("DURATION", 10.0)),
            env_number("CONNS", 16.0) as usize,
        )
    } else {
        (Duration::from_millis(500), 2)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("client runtime");
    println!(
        "== tenantry passkey sign-in benchmark: {:.0} s per phase, {conns} clients, {cores} cores \
         shared by server and clients (one process, {} build, SQLite WAL synchronous=NORMAL)",
        duration.as_secs_f64(),
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );

    // Baseline: SQLite commits, before the server exists so nothing else writes.
    let commits_one = server_rt.block_on(sqlite_commits(1, duration));
    let commits_many = server_rt.block_on(sqlite_commits(conns, duration));
    println!("baseline SQLite commits/s: {commits_one:.0} (1 writer), {commits_many:.0} ({conns} writers, pool of 8)");

    // The server and its world (not measured).
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = server_rt.block_on(start_server(stopped));
    let origin = server.core.issuer(TENANT);
    let paths = server_rt.block_on(world(&server.core, conns + 1));
    let mut devices: Vec<Device> = client_rt.block_on(async {
        let client = http_client(server.addr);
        let mut devs = Vec::new();
        for p in &paths {
            devs.push(enrol(&client, &server, p).await);
        }
        devs
    });
    println!(
        "enrolled {} admins of {TENANT} at {} (listening on {})",
        devices.len(),
        origin,
        server.addr
    );

    // Baseline: raw HTTP overhead.
    let (health_rps, health_bad) =
        client_rt.block_on(healthz(server.addr, &origin, conns, duration));
    println!("baseline GET /healthz req/s: {health_rps:.0} (non-200 or errors: {health_bad})");

    // Baseline: the client's own signing, one thread, on real login options.
    let mut signer = devices.pop().expect("a spare device");
    let options = client_rt.block_on(async {
        let client = http_client(server.addr);
        let r = post(&client, &origin, &origin, "/login/start", &json!({}))
            .await
            .expect("login start");
        assert_eq!(r.status, 200, "login start: {}", r.text);
        r.body["options"].clone()
    });
    let sign_for = duration.min(SIGN_BASELINE_MAX);
    let s0 = Instant::now();
    let mut signed = 0u64;
    while s0.elapsed() < sign_for {
        signer.assert(&origin, &options).expect("signing baseline");
        signed += 1;
    }
    let sign_rate = signed as f64 / s0.elapsed().as_secs_f64();
    println!("baseline client assertions signed/s on one thread: {sign_rate:.0}");

    // The measured run.
    let cpu0 = process_cpu_seconds();
    let deadline = Instant::now() + duration;
    let l0 = Instant::now();
    let mut tally = client_rt.block_on(async {
        let mut handles = Vec::new();
        for dev in devices {
            let client = http_client(server.addr);
            handles.push(tokio::spawn(login_loop(
                client,
                dev,
                origin.clone(),
                deadline,
            )));
        }
        let mut all = Tally::default();
        for h in handles {
            all.merge(h.await.expect("client task"));
        }
        all
    });
    let wall = l0.elapsed().as_secs_f64();
    let cpu = cpu0.zip(process_cpu_seconds()).map(|(a, b)| b - a);
    tally.login_latency.sort();
    tally.finish_latency.sort();
    let rate = tally.ok as f64 / wall;

    // Cross-check with what the server recorded.
    let (audited, sessions) = server_rt.block_on(async {
        let pool = server.core.store.pool();
        let a: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'login.passkey'")
                .fetch_one(pool)
                .await
                .expect("count audited logins");
        let s: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
            .fetch_one(pool)
            .await
            .expect("count sessions");
        (a.0, s.0)
    });
    let _ = stop.send(());

    let ratio = rate / commits_many;
    let target = 1500.0_f64.min(0.4 * commits_many);
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!("| passkey logins/s (start + sign + finish, {conns} clients) | {rate:.0} |");
    println!(
        "| login latency p50 / p99 (start + client signing + finish) | {} / {} |",
        ms(percentile(&tally.login_latency, 50.0)),
        ms(percentile(&tally.login_latency, 99.0))
    );
    println!(
        "| finish request latency p50 / p99 | {} / {} |",
        ms(percentile(&tally.finish_latency, 50.0)),
        ms(percentile(&tally.finish_latency, 99.0))
    );
    println!(
        "| successful / failed logins | {} / {} |",
        tally.ok,
        tally.failed()
    );
    println!("| baseline SQLite commits/s, {conns} writers (1 writer) | {commits_many:.0} ({commits_one:.0}) |");
    println!("| ratio logins/s ÷ commits/s ({conns} writers) | {ratio:.3} (target ≥ 0.4, or ≥ 1,500/s) |");
    println!(
        "| verdict | {} (needs ≥ {target:.0}/s) |",
        if rate >= target { "MET" } else { "NOT MET" }
    );
    println!("| baseline GET /healthz req/s | {health_rps:.0} |");
    println!("| baseline client signing/s, one thread | {sign_rate:.0} |");
    println!(
        "| client signing share of {cores} cores during the run | {:.1} % |",
        100.0 * tally.signing.as_secs_f64() / (wall * cores as f64)
    );
    if let Some(cpu) = cpu {
        println!(
            "| process CPU (server + clients) per login | {:.0} µs ({:.0} % of {cores} cores) |",
            1e6 * cpu / (tally.ok.max(1) as f64),
            100.0 * cpu / (wall * cores as f64)
        );
    }
    println!("| cores | {cores} |");
    println!("| server-side check | {audited} login.passkey audit entries, {sessions} sessions (enrolment opened {}) |", paths.len());
    if !tally.failures.is_empty() {
        println!();
        println!("FAILED LOGINS by step, status and error code (first message):");
        for (k, (n, m)) in &tally.failures {
            let m: String = m.chars().take(300).collect();
            println!("  {n:>8}  {k}: {m}");
        }
    }
    println!();
    println!("total run time {:.1} s", started.elapsed().as_secs_f64());
    // Let the server drain, then drop both runtimes.
    server_rt.shutdown_timeout(Duration::from_secs(5));
    client_rt.shutdown_timeout(Duration::from_secs(5));
    if tally.failed() > 0 || tally.ok == 0 {
        std::process::exit(1);
    }
}
