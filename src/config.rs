//! One typed `Config`, merged from flags, `TENANTRY_*` environment variables and an
//! optional TOML file, in that order of precedence. A wrong value stops start-up with a
//! message naming the setting.
//!
//! Imports nothing async; the CLI (src/cli) declares the flags and hands their raw values here.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Raw values as given by a flag or environment variable (clap merged those two already).
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub master_key_file: Option<String>,
    pub master_key: Option<String>,
    pub sqlite_synchronous: Option<String>,
    pub listen: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub dns_server: Option<String>,
}

/// The optional TOML file: the same settings, snake_case, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    log_format: Option<String>,
    log_level: Option<String>,
    master_key_file: Option<String>,
    sqlite_synchronous: Option<String>,
    listen: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    dns_server: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (created when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSynchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `TENANTRY_MASTER_KEY`: 32 bytes as base64 or hex.
    Inline(String),
    /// `--master-key-file`: a file holding the key.
    File(PathBuf),
    /// `{data_dir}/master.key`, created on first start (SQLite only).
    DataDir,
}

/// Scheme, host and optional port, no path (product.md: the public URL). Its host is the
/// base domain; every issuer, link and cookie is derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub https: bool,
    pub host: String,
    /// None when it is the scheme's default port.
    pub port: Option<u16>,
}

impl PublicUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let u = url::Url::parse(s).map_err(|e| format!("'{s}' is not a URL ({e})"))?;
        let https = match u.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(format!("scheme must be http or https, not '{other}'")),
        };
        if !u.username().is_empty() || u.password().is_some() {
            return Err("must not carry user information".into());
        }
        if u.path() != "/" && !u.path().is_empty() {
            return Err(format!("must have no path (found '{}')", u.path()));
        }
        if u.query().is_some() || u.fragment().is_some() {
            return Err("must have no query or fragment".into());
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            Some(_) => return Err("host must be a domain name, not an IP address".into()),
            None => return Err("has no host".into()),
        };
        if host.is_empty() {
            return Err("has no host".into());
        }
        Ok(PublicUrl {
            https,
            host,
            port: u.port(),
        })
    }

    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The base domain: tenants live at `{label}.{base_domain}`.
    pub fn base_domain(&self) -> &str {
        &self.host
    }

    /// `{scheme}://{label}.{host}[:port]`: a tenant's issuer and origin.
    pub fn tenant_origin(&self, label: &str) -> String {
        // Once per issued token: built without the formatting machinery.
        let mut out = String::with_capacity(label.len() + self.host.len() + 16);
        out.push_str(self.scheme());
        out.push_str("://");
        out.push_str(label);
        out.push('.');
        out.push_str(&self.host);
        if let Some(p) = self.port {
            use std::fmt::Write;
            let _ = write!(out, ":{p}");
        }
        out
    }

    /// The same URL with its port replaced (used when `serve` binds port 0).
    pub fn with_port(&self, port: u16) -> Self {
        let default = if self.https { 443 } else { 80 };
        PublicUrl {
            port: (port != default).then_some(port),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.host)?;
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8080";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: Database,
    /// None: not configured; `serve` then uses `http://localhost:{bound port}`.
    pub public_url: Option<PublicUrl>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub master_key: MasterKeySource,
    pub sqlite_synchronous: SqliteSynchronous,
    pub listen: SocketAddr,
    /// SMTP server for outgoing mail; None: messages go to `{data_dir}/outbox/`.
    pub smtp_url: Option<String>,
    /// The From address; None: `tenantry@{base domain}`.
    pub mail_from: Option<String>,
    /// The DNS server (ip:port, UDP) asked when verifying federation domains; None: the
    /// system resolver.
    pub dns_server: Option<SocketAddr>,
}

/// A setting that could not be used; the message names it and where it can be set.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name} ({flag}, {env}, or `{name}` in the config file): {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub flag: &'static str,
    pub env: &'static str,
    pub problem: String,
}

fn bad(name: &'static str, flag: &'static str, env: &'static str, problem: String) -> ConfigError {
    ConfigError {
        name,
        flag,
        env,
        problem,
    }
}

impl Config {
    /// Merge flags/env (already in `raw`) with the optional TOML file, then type-check.
    pub fn load(raw: RawSettings) -> Result<Config, ConfigError> {
        let file = match &raw.config_file {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let pick = |a: &Option<String>, b: Option<String>| a.clone().or(b);

        let data_dir = PathBuf::from(
            pick(&raw.data_dir, file.data_dir).unwrap_or_else(|| "./data".to_string()),
        );
        if data_dir.as_os_str().is_empty() {
            return Err(bad(
                "data_dir",
                "--data-dir",
                "TENANTRY_DATA_DIR",
                "must not be empty".into(),
            ));
        }

        let database = match pick(&raw.database_url, file.database_url) {
            None => Database::Sqlite(data_dir.join("tenantry.db")),
            Some(url) => parse_database_url(&url)
                .map_err(|p| bad("database_url", "--database-url", "TENANTRY_DATABASE_URL", p))?,
        };

        let public_url = match pick(&raw.public_url, file.public_url) {
            None => None,
            Some(s) => Some(
                PublicUrl::parse(&s)
                    .map_err(|p| bad("public_url", "--public-url", "TENANTRY_PUBLIC_URL", p))?,
            ),
        };

        let log_format = match pick(&raw.log_format, file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "log_format",
                    "--log-format",
                    "TENANTRY_LOG_FORMAT",
                    format!("'{other}' is not one of: text, json"),
                ))
            }
        };

        let log_level = pick(&raw.log_level, file.log_level).unwrap_or_else(|| "info".to_string());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(bad(
                "log_level",
                "--log-level",
                "TENANTRY_LOG_LEVEL",
                format!("'{log_level}' is not a log filter (try info, debug, tenantry=debug)"),
            ));
        }

        let master_key = match (
            &raw.master_key,
            pick(&raw.master_key_file, file.master_key_file),
        ) {
            (Some(k), _) => MasterKeySource::Inline(k.clone()),
            (None, Some(f)) => MasterKeySource::File(PathBuf::from(f)),
            (None, None) => MasterKeySource::DataDir,
        };

        let sqlite_synchronous =
            match pick(&raw.sqlite_synchronous, file.sqlite_synchronous).as_deref() {
                None | Some("normal") => SqliteSynchronous::Normal,
                Some("full") => SqliteSynchronous::Full,
                Some(other) => {
                    return Err(bad(
                        "sqlite_synchronous",
                        "--sqlite-synchronous",
                        "TENANTRY_SQLITE_SYNCHRONOUS",
                        format!("'{other}' is not one of: normal, full"),
                    ))
                }
            };

        let listen_raw =
            pick(&raw.listen, file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_raw.parse::<SocketAddr>().map_err(|_| {
            bad(
                "listen",
                "--listen",
                "TENANTRY_LISTEN",
                format!("'{listen_raw}' is not an address like 127.0.0.1:8080"),
            )
        })?;

        let smtp_url = pick(&raw.smtp_url, file.smtp_url).filter(|s| !s.is_empty());
        if let Some(s) = &smtp_url {
            crate::core::mail::check_smtp_url(s)
                .map_err(|p| bad("smtp_url", "--smtp-url", "TENANTRY_SMTP_URL", p))?;
        }
        let mail_from = pick(&raw.mail_from, file.mail_from).filter(|s| !s.is_empty());
        if let Some(s) = &mail_from {
            crate::core::mail::check_mail_from(s)
                .map_err(|p| bad("mail_from", "--mail-from", "TENANTRY_MAIL_FROM", p))?;
        }

        let dns_server = match pick(&raw.dns_server, file.dns_server).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "dns_server",
                    "--dns-server",
                    "TENANTRY_DNS_SERVER",
                    format!("'{s}' is not an address like 127.0.0.1:53"),
                )
            })?),
        };

        Ok(Config {
            data_dir,
            database,
            public_url,
            log_format,
            log_level,
            master_key,
            sqlite_synchronous,
            listen,
            smtp_url,
            mail_from,
            dns_server,
        })
    }

    /// The public URL, or the default one for commands that do not serve.
    pub fn public_url_or_default(&self) -> PublicUrl {
        self.public_url.clone().unwrap_or_else(|| {
            PublicUrl::parse(DEFAULT_PUBLIC_URL).expect("the default public URL parses")
        })
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(
            "config",
            "--config",
            "TENANTRY_CONFIG",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        bad(
            "config",
            "--config",
            "TENANTRY_CONFIG",
            format!("{} is not valid: {}", path.display(), e.message()),
        )
    })
}

fn parse_database_url(url: &str) -> Result<Database, String> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err("an SQLite URL must name a file (sqlite:///path/to/tenantry.db)".into());
        }
        return Ok(Database::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url::Url::parse(url).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
        return Ok(Database::Postgres(url.to_string()));
    }
    Err("must start with postgres:// or sqlite://".into())
}
