//! A real server: `app::serve` on 127.0.0.1:0, and the binary's `serve`, `serve --tls`
//! and `demo`, stopped by SIGTERM.

use crate::support::{test_app, TestEnv};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP/1.1 GET over any stream; returns the whole response text.
async fn get<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    host: &str,
    path: &str,
) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn serve_answers_on_a_real_socket_and_shuts_down_gracefully() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tenantry::app::serve(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    let r = get(
        tokio::net::TcpStream::connect(addr).await.expect("connect"),
        "acme.localhost",
        "/",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = get(
        tokio::net::TcpStream::connect(addr).await.expect("connect"),
        "nope.localhost",
        "/",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    stop.send(()).expect("signal");
    server.await.expect("join").expect("clean shutdown");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

/// Start the binary and wait for its "listening" log line; returns the child and address.
/// A started server process, killed if a test fails before stopping it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start(env: &TestEnv, args: &[&str]) -> (Server, String, std::sync::mpsc::Receiver<String>) {
    let mut child = env
        .command()
        .args(["--log-format", "json", "--log-level", "info"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let Some(stderr) = child.stderr.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no stderr");
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server never logged 'listening': {e}");
            }
        };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if v["message"] == "listening" {
                let addr = v["addr"].as_str().unwrap_or_default().to_string();
                return (Server(Some(child)), addr, rx);
            }
        }
    }
}

fn terminate(mut server: Server) -> (bool, String) {
    let Some(child) = server.0.take() else {
        return (false, String::new());
    };
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_serves_json_logs_and_stops_on_sigterm() {
    let env = TestEnv::new().await;
    let (child, addr, rx) = start(&env, &["serve", "--listen", "127.0.0.1:0"]);
    let port = addr.rsplit(':').next().expect("port").to_string();
    let r = get(
        tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect"),
        "localhost",
        "/readyz",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let (clean, _) = terminate(child);
    assert!(clean, "exit 0 after SIGTERM");
    // Everything the server wrote: the reader thread ends at the pipe's end (the server has
    // exited), and may still be catching up when `terminate` returns on a busy machine.
    let mut logs = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(10)) {
        logs.push(line);
    }
    let request_log = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "request")
        .expect("a JSON request log");
    assert_eq!(request_log["route"], "/readyz");
    assert!(request_log["request_id"].is_string());
    assert!(!port.is_empty());
}

#[tokio::test]
async fn serve_tls_uses_the_development_certificates() {
    let env = TestEnv::new().await;
    let made = env
        .command()
        .args(["msp", "create", "acme", "--admin-email", "a@acme.example"])
        .output()
        .expect("msp");
    assert!(made.status.success());
    let made = env
        .command()
        .args(["tenant", "create", "globex", "--msp", "acme"])
        .output()
        .expect("customer");
    assert!(made.status.success());
    let certs = env.dir.path().join("certs");
    let out = env
        .command()
        .args(["certs", "dev", "--out"])
        .arg(&certs)
        .output()
        .expect("certs dev");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // The wildcard, the bare host, and every tenant by name (TLS clients refuse a wildcard
    // directly under a one-label domain such as `localhost`).
    assert_eq!(
        printed["names"],
        serde_json::json!([
            "*.localhost",
            "localhost",
            "acme.localhost",
            "globex-acme.localhost"
        ])
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(certs.join("tls-key.pem"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "private key readable by others");

    let cert = certs.join("tls.pem").display().to_string();
    let key = certs.join("tls-key.pem").display().to_string();
    let (child, addr, _rx) = start(
        &env,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );

    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let ca_pem = std::fs::read(certs.join("ca.pem")).expect("ca");
    for c in rustls_pemfile_certs(&ca_pem) {
        roots.add(c).expect("add CA");
    }
    let config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("globex-acme.localhost")
        .expect("name");
    let tls = connector
        .connect(name, tcp)
        .await
        .expect("TLS handshake verifies against the dev CA");
    let r = get(tls, "globex-acme.localhost", "/healthz").await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let (clean, _) = terminate(child);
    assert!(clean);
}

fn rustls_pemfile_certs(
    pem: &[u8],
) -> Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    tokio_rustls::rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.expect("pem"))
        .collect()
}

#[tokio::test]
async fn demo_is_idempotent_and_reissues_links() {
    let env = TestEnv::new().await;
    let (child, addr, _rx) = start(&env, &["demo", "--listen", "127.0.0.1:0"]);
    let port = addr.rsplit(':').next().expect("port").to_string();
    let r = get(
        tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect"),
        "globex-acme.localhost",
        "/",
    )
    .await;
    assert!(r.contains("Globex Corporation"), "{r}");
    let (clean, first) = terminate(child);
    assert!(clean);
    let first: serde_json::Value = serde_json::from_str(&first).expect("demo prints JSON");

    let (child, _, _rx) = start(&env, &["demo", "--listen", "127.0.0.1:0"]);
    let (_, second) = terminate(child);
    let second: serde_json::Value = serde_json::from_str(&second).expect("demo prints JSON");

    let tenants = |v: &serde_json::Value| -> Vec<String> {
        v["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .map(|t| t["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(tenants(&first), vec!["acme", "globex-acme", "initech-acme"]);
    assert_eq!(tenants(&first), tenants(&second));
    let globex = |v: &serde_json::Value| v["tenants"][1].clone();
    assert_eq!(globex(&first)["networks"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        globex(&second)["networks"].as_array().map(Vec::len),
        Some(3)
    );
    assert!(globex(&first)["issuer"]
        .as_str()
        .unwrap_or("")
        .ends_with(&format!(".localhost:{port}")));
    let link = |v: &serde_json::Value| {
        globex(v)["admins"][0]["enrolment_url"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(link(&first).contains("/enroll/tnt_enr_"));
    assert_ne!(link(&first), link(&second), "a re-run issues fresh links");

    // The first run's link no longer works; the second's does.
    let core = tenantry::app::open(
        &env.config(),
        tenantry::config::PublicUrl::parse("http://localhost").expect("url"),
        std::sync::Arc::new(tenantry::clock::SystemClock),
    )
    .await
    .expect("open");
    let t = core.find_tenant("globex-acme").await.expect("tenant");
    let token = |l: String| l.rsplit('/').next().unwrap_or("").to_string();
    assert!(core
        .enrolment_user(&t, &token(link(&first)))
        .await
        .expect("lookup")
        .is_none());
    assert!(core
        .enrolment_user(&t, &token(link(&second)))
        .await
        .expect("lookup")
        .is_some());
}
