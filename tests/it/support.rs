//! Fixtures: a fresh database per test (SQLite file or a new PostgreSQL database), a Core
//! on a fixed clock, and requests driven through `router(state)`.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use tempfile::TempDir;
use tenantry::app::{self, AppState};
use tenantry::clock::{FixedClock, SharedClock};
use tenantry::config::{Config, PublicUrl, RawSettings};
use tenantry::core::audit::Actor;
use tenantry::core::tenants::{Created, NewTenant};
use tenantry::core::Core;
use tower::ServiceExt;

pub const T0: i64 = 1_800_000_000;

/// The PostgreSQL server to test against, if any.
pub fn pg_base() -> Option<String> {
    std::env::var("TENANTRY_TEST_PG_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut b = vec![0u8; n];
    rand::rng().fill(&mut b[..]);
    hex::encode(b)
}

/// A database URL of its own for one test: None means the SQLite file in the data dir.
pub async fn fresh_database_url() -> Option<String> {
    let base = pg_base()?;
    let name = format!("t_{}", random_hex(8));
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(&base).expect("TENANTRY_TEST_PG_URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// Settings for a test: its own data dir, database and master key.
pub struct TestEnv {
    pub dir: TempDir,
    pub database_url: Option<String>,
    pub master_key: String,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
            database_url: fresh_database_url().await,
            master_key: random_hex(32),
        }
    }

    pub fn raw(&self) -> RawSettings {
        RawSettings {
            data_dir: Some(self.dir.path().display().to_string()),
            database_url: self.database_url.clone(),
            master_key: Some(self.master_key.clone()),
            ..RawSettings::default()
        }
    }

    pub fn config(&self) -> Config {
        Config::load(self.raw()).expect("test config")
    }

    /// Global flags and environment for running the binary against this test's database.
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TENANTRY_MASTER_KEY", &self.master_key)
            .env("TENANTRY_LOG_LEVEL", "warn")
            .arg("--data-dir")
            .arg(self.dir.path());
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd
    }
}

pub struct TestApp {
    pub env: TestEnv,
    pub core: Core,
    pub clock: FixedClock,
    pub state: AppState,
}

pub async fn test_app() -> TestApp {
    let env = TestEnv::new().await;
    let clock = FixedClock::new(T0);
    let shared: SharedClock = Arc::new(clock.clone());
    let public = PublicUrl::parse("http://localhost:8080").expect("public url");
    let core = app::open(&env.config(), public, shared)
        .await
        .expect("open core");
    assert_eq!(
        core.store.backend() == tenantry::store::Backend::Postgres,
        pg_base().is_some(),
        "the test runs on the backend it was asked for"
    );
    let state = AppState::new(core.clone());
    TestApp {
        env,
        core,
        clock,
        state,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestApp {
    pub async fn request(&self, req: Request<Body>) -> Reply {
        let resp = app::router(self.state.clone())
            .oneshot(req)
            .await
            .expect("router answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, host: &str, path: &str) -> Reply {
        self.request(
            Request::get(path)
                .header("host", host)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    pub async fn msp(&self, name: &str, email: &str) -> Created {
        self.core
            .create_msp(
                NewTenant {
                    name,
                    display_name: None,
                    admin_email: Some(email),
                },
                &Actor::cli(),
            )
            .await
            .expect("create MSP")
    }

    pub async fn customer(&self, name: &str, msp: &str, display: &str) -> Created {
        self.core
            .create_customer(
                NewTenant {
                    name,
                    display_name: Some(display),
                    admin_email: None,
                },
                msp,
                &Actor::cli(),
            )
            .await
            .expect("create customer")
    }
}

/// An admin with an API key, for driving the admin API.
pub struct Admin {
    pub user_id: String,
    pub id: String,
    pub key: String,
}

impl TestApp {
    /// A local admin of `tenant` with an API key.
    pub async fn admin(
        &self,
        tenant: &str,
        email: &str,
        org: Option<tenantry::authz::OrgAccess>,
        grants: Vec<tenantry::authz::Grant>,
    ) -> Admin {
        let spec = tenantry::core::admins::AdminSpec::new(email, None, org, grants).expect("spec");
        let created = self
            .core
            .add_admin(tenant, spec, &Actor::cli())
            .await
            .expect("add admin");
        self.key_for(tenant, &created.user_id, &created.membership_id)
            .await
    }

    pub async fn key_for(&self, tenant: &str, user_id: &str, id: &str) -> Admin {
        let t = self.core.find_tenant(tenant).await.expect("tenant");
        let key = self
            .core
            .create_api_key(&t, user_id, "test", &Actor::cli())
            .await
            .expect("api key")
            .key
            .expect("secret shown once");
        Admin {
            user_id: user_id.to_string(),
            id: id.to_string(),
            key,
        }
    }

    /// A request to the admin API; `body` is sent as JSON when given.
    pub async fn api(
        &self,
        method: &str,
        host: &str,
        path: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value, HeaderMap) {
        self.api_with(method, host, path, key, body, &[]).await
    }

    pub async fn api_with(
        &self,
        method: &str,
        host: &str,
        path: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value, HeaderMap) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", host);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let r = self.request(req).await;
        let json = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
        (r.status, json, r.headers)
    }
}
