//! Configuration: precedence flags > environment > file, and bad values named clearly.

use crate::support::TestEnv;
use tenantry::config::{Config, Database, LogFormat, RawSettings};

fn write_toml(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("tenantry.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn flags_and_env_win_over_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write_toml(
        dir.path(),
        "data_dir = \"/from/file\"\npublic_url = \"https://id.example.com\"\nlog_format = \"json\"\nlisten = \"0.0.0.0:9000\"\n",
    );
    let c = Config::load(RawSettings {
        config_file: Some(file.clone()),
        data_dir: Some("/from/flag".into()),
        ..RawSettings::default()
    })
    .expect("config");
    assert_eq!(c.data_dir, std::path::PathBuf::from("/from/flag"));
    assert_eq!(
        c.database,
        Database::Sqlite("/from/flag/tenantry.db".into())
    );
    let public = c.public_url.expect("public url from file");
    assert_eq!(
        public.tenant_origin("globex-acme"),
        "https://globex-acme.id.example.com"
    );
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.listen.port(), 9000);

    let defaults = Config::load(RawSettings::default()).expect("defaults");
    assert_eq!(defaults.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        defaults.public_url_or_default().tenant_origin("acme"),
        "http://acme.localhost:8080"
    );
}

#[test]
fn a_bad_value_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().expect("dir");
    let cases: Vec<(RawSettings, &str)> = vec![
        (
            RawSettings {
                public_url: Some("ftp://localhost".into()),
                ..Default::default()
            },
            "public_url",
        ),
        (
            RawSettings {
                public_url: Some("http://localhost:8080/idp".into()),
                ..Default::default()
            },
            "public_url",
        ),
        (
            RawSettings {
                log_format: Some("xml".into()),
                ..Default::default()
            },
            "log_format",
        ),
        (
            RawSettings {
                database_url: Some("mysql://x".into()),
                ..Default::default()
            },
            "database_url",
        ),
        (
            RawSettings {
                sqlite_synchronous: Some("sometimes".into()),
                ..Default::default()
            },
            "sqlite_synchronous",
        ),
        (
            RawSettings {
                listen: Some("localhost".into()),
                ..Default::default()
            },
            "listen",
        ),
        (
            RawSettings {
                config_file: Some(write_toml(dir.path(), "listen = 8080\n")),
                ..Default::default()
            },
            "config",
        ),
        (
            RawSettings {
                config_file: Some(dir.path().join("missing.toml")),
                ..Default::default()
            },
            "config",
        ),
    ];
    for (raw, setting) in cases {
        let err = Config::load(raw).expect_err(setting).to_string();
        assert!(err.contains(setting), "{setting}: {err}");
    }
    let unknown = write_toml(dir.path(), "data_dri = \"x\"\n");
    let err = Config::load(RawSettings {
        config_file: Some(unknown),
        ..Default::default()
    })
    .expect_err("unknown key")
    .to_string();
    assert!(err.contains("data_dri"), "{err}");
}

#[tokio::test]
async fn the_binary_refuses_bad_settings_and_a_foreign_master_key() {
    let env = TestEnv::new().await;
    let out = env
        .command()
        .env("TENANTRY_LOG_FORMAT", "xml")
        .arg("migrate")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("log_format") && stderr.contains("TENANTRY_LOG_FORMAT"),
        "{stderr}"
    );

    let out = env
        .command()
        .args(["--public-url", "localhost"])
        .arg("migrate")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("public_url"));

    let ok = env.command().arg("migrate").output().expect("run");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = env
        .command()
        .env("TENANTRY_MASTER_KEY", "00".repeat(32))
        .arg("migrate")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key"));
}

#[tokio::test]
async fn sqlite_creates_a_private_master_key_and_postgres_demands_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .env_clear()
        .arg("--data-dir")
        .arg(dir.path())
        .arg("migrate")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::metadata(dir.path().join("master.key")).expect("key file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    if let Some(url) = crate::support::fresh_database_url().await {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
            .env_clear()
            .arg("--data-dir")
            .arg(dir.path().join("other"))
            .args(["--database-url", &url, "migrate"])
            .output()
            .expect("run");
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("TENANTRY_MASTER_KEY"));
    }
}
