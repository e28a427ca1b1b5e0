//! Enrolment e-mail: the outbox in the data directory (the default), SMTP when configured,
//! and logs that never carry the link.

use crate::support::{test_app, TestEnv};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tenantry::authz::OrgAccess;

const G: &str = "globex-acme.localhost:8080";

/// The outbox's messages, oldest first (names sort by time).
fn outbox(data_dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(dir) = std::fs::read_dir(data_dir.join("outbox")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .map(|e| e.expect("outbox entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read message");
            (p, text)
        })
        .collect()
}

struct Run {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

fn run(cmd: &mut std::process::Command) -> Run {
    let out = cmd.output().expect("run tenantry");
    Run {
        code: out.status.code(),
        json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn admin_add(env: &TestEnv, extra: &[&str]) -> std::process::Command {
    let mut cmd = env.command();
    cmd.args(extra).args([
        "admin",
        "add",
        "--tenant",
        "globex-acme",
        "--email",
        "ops@globex.example",
        "--org-access",
        "full",
    ]);
    cmd
}

fn setup_tenants(env: &TestEnv) {
    for args in [
        &[
            "msp",
            "create",
            "acme",
            "--admin-email",
            "boss@acme.example",
        ][..],
        &[
            "tenant",
            "create",
            "globex",
            "--msp",
            "acme",
            "--display-name",
            "Globex Corp",
        ][..],
    ] {
        let r = run(env.command().args(args));
        assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
    }
}

#[tokio::test]
async fn the_cli_writes_the_enrolment_link_to_the_outbox_and_not_to_the_log() {
    let env = TestEnv::new().await;
    setup_tenants(&env);
    assert_eq!(outbox(env.dir.path()).len(), 1, "the MSP's first admin");

    let r = run(&mut admin_add(&env, &["--log-level", "info"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let url = r.json["enrolment_url"]
        .as_str()
        .expect("a link")
        .to_string();
    assert!(url.contains("/enroll/tnt_enr_"), "{url}");

    let mails = outbox(env.dir.path());
    assert_eq!(mails.len(), 2, "one more message");
    let (path, text) = &mails[1];
    assert!(text.contains(&url), "the message holds the link: {text}");
    assert!(text.contains("To: ops@globex.example"), "{text}");
    assert!(
        text.contains("Subject: Set up your passkey for Globex Corp"),
        "{text}"
    );
    assert!(text.contains("From: tenantry@localhost"), "{text}");
    assert!(text.contains(r.json["enrolment_expires_at"].as_str().unwrap()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner reads the outbox");

    // The log says a message was written, with the route template, never the token.
    assert!(r.stderr.contains("outbox"), "{}", r.stderr);
    assert!(r.stderr.contains("/enroll/{token}"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("tnt_enr_"),
        "a token in the log: {}",
        r.stderr
    );
}

#[tokio::test]
async fn settings_for_mail_are_checked() {
    let env = TestEnv::new().await;
    for (flag, value, name) in [
        ("--smtp-url", "http://mail.example.com", "smtp_url"),
        ("--smtp-url", "smtp://", "smtp_url"),
        ("--mail-from", "not an address", "mail_from"),
    ] {
        let r = run(env.command().args([flag, value, "migrate"]));
        assert_eq!(r.code, Some(2), "{flag} {value}: {}", r.stderr);
        assert!(r.stderr.contains(name), "{flag} {value}: {}", r.stderr);
    }
    // A password in the URL is not repeated in the message.
    let r = run(env.command().args([
        "--smtp-url",
        "smtp://u:s3cret@mail.example.com?tls=sometimes",
        "migrate",
    ]));
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("smtp_url"), "{}", r.stderr);
    assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
    // The setting comes from the environment too, and a good one is accepted.
    let r = run(env
        .command()
        .env("TENANTRY_SMTP_URL", "smtp://mail.example.com:2525")
        .env("TENANTRY_MAIL_FROM", "IdP <idp@example.com>")
        .arg("migrate"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(env
        .command()
        .env("TENANTRY_SMTP_URL", "ftp://x")
        .arg("migrate"));
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("TENANTRY_SMTP_URL"), "{}", r.stderr);
}

#[tokio::test]
async fn the_admin_api_mails_new_admins_and_resent_links() {
    let app = test_app().await;
    let dir = app.env.dir.path().to_path_buf();
    app.msp("acme", "boss@acme.example").await;
    assert_eq!(outbox(&dir).len(), 1, "the MSP's first admin got a link");
    assert!(outbox(&dir)[0].1.contains("To: boss@acme.example"));
    app.customer("globex", "acme", "Globex").await;
    let full = app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    assert_eq!(outbox(&dir).len(), 2);
    // A support contact, when set, is in the message.
    let (s, v, _) = app
        .api(
            "PATCH",
            G,
            "/api/v1/orgs/globex-acme/settings",
            Some(&full.key),
            Some(json!({"branding": {"support_contact": "helpdesk@globex.example"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, created, _) = app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/admins",
            Some(&full.key),
            Some(json!({"email": "new@globex.example", "org_access": "read-only"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let first = created["enrolment_url"].as_str().expect("link").to_string();
    let mails = outbox(&dir);
    assert_eq!(mails.len(), 3, "one message for the new admin");
    let text = &mails[2].1;
    assert!(text.contains(&first), "{text}");
    assert!(text.contains("To: new@globex.example"), "{text}");
    assert!(text.contains("helpdesk@globex.example"), "{text}");

    let id = created["id"].as_str().expect("id");
    let (s, resent, _) = app
        .api(
            "POST",
            G,
            &format!("/api/v1/orgs/globex-acme/admins/{id}/resend-enrolment"),
            Some(&full.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{resent}");
    let second = resent["enrolment_url"].as_str().expect("link").to_string();
    assert_ne!(first, second);
    let mails = outbox(&dir);
    assert_eq!(mails.len(), 4, "one message for the resent link");
    let text = &mails[3].1;
    assert!(text.contains(&second), "the new link: {text}");
    assert!(!text.contains(&first), "not the old one: {text}");
    assert!(text.contains("To: new@globex.example"), "{text}");
}

/// A fake SMTP server on 127.0.0.1:0 that accepts every message and hands its DATA over.
async fn fake_smtp() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 fake ESMTP\r\n").await.ok();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            tx.send(data.take().unwrap()).ok();
                            w.write_all(b"250 2.0.0 queued\r\n").await.ok();
                        } else {
                            d.push_str(line.strip_prefix('.').unwrap_or(&line));
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-fake\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            w.write_all(b"221 bye\r\n").await.ok();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(reply).await.ok();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn with_smtp_url_the_message_goes_to_the_server() {
    let env = TestEnv::new().await;
    setup_tenants(&env);
    let (port, mut rx) = fake_smtp().await;
    let smtp = format!("smtp://127.0.0.1:{port}");
    let mut cmd = admin_add(
        &env,
        &["--smtp-url", &smtp, "--mail-from", "IdP <idp@example.com>"],
    );
    let r = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let url = r.json["enrolment_url"].as_str().expect("link").to_string();
    let data = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("the server got a message")
        .expect("a message");
    assert!(data.contains(&url), "{data}");
    assert!(data.contains("From: IdP <idp@example.com>"), "{data}");
    assert_eq!(
        outbox(env.dir.path()).len(),
        1,
        "only the MSP admin's, from before"
    );
}

#[tokio::test]
async fn a_mail_failure_does_not_undo_the_admin() {
    let env = TestEnv::new().await;
    setup_tenants(&env);
    // Nobody listens on this port: sending fails, the admin and the link stay.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let smtp = format!("smtp://127.0.0.1:{port}");
    let r = run(&mut admin_add(&env, &["--smtp-url", &smtp]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.json["enrolment_url"].as_str().is_some());
    assert!(r.stderr.contains("enrolment e-mail failed"), "{}", r.stderr);
    assert!(!r.stderr.contains("tnt_enr_"), "{}", r.stderr);
    let r = run(env
        .command()
        .args(["admin", "list", "--tenant", "globex-acme"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.json.as_array().map(Vec::len), Some(1), "{}", r.json);
}
