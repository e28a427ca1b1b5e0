//! The command line: global options (also settable by `TENANTRY_*` and the config file),
//! one file per command group. Everything a command creates is printed as JSON on stdout;
//! errors go to stderr as one readable line, with a non-zero exit.

mod admins;
mod apikeys;
mod certs;
mod clients;
mod demo;
mod federation;
mod keys;
mod networks;
mod saml;
mod scim;
mod serve;
mod tenants;

use crate::config::{Config, RawSettings};
use crate::error::Error;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "tenantry",
    version,
    about = "A multi-tenant identity provider for MSPs"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Optional TOML configuration file (flags and environment take precedence).
    #[arg(long, env = "TENANTRY_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory: SQLite database, master key, outbox [default: ./data].
    #[arg(long, env = "TENANTRY_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// postgres://... or sqlite://FILE [default: SQLite file in the data dir].
    #[arg(long, env = "TENANTRY_DATABASE_URL", global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Public scheme, host and port; tenants live at {tenant}.{host} [default: http://localhost:8080].
    #[arg(long, env = "TENANTRY_PUBLIC_URL", global = true, value_name = "URL")]
    pub public_url: Option<String>,
    /// text or json [default: text].
    #[arg(
        long,
        env = "TENANTRY_LOG_FORMAT",
        global = true,
        value_name = "FORMAT"
    )]
    pub log_format: Option<String>,
    /// A tracing filter such as info or tenantry=debug [default: info].
    #[arg(long, env = "TENANTRY_LOG_LEVEL", global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// File holding the 32-byte master key (base64 or hex); or set TENANTRY_MASTER_KEY.
    #[arg(
        long,
        env = "TENANTRY_MASTER_KEY_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub master_key_file: Option<String>,
    /// normal or full [default: normal].
    #[arg(
        long,
        env = "TENANTRY_SQLITE_SYNCHRONOUS",
        global = true,
        value_name = "MODE"
    )]
    pub sqlite_synchronous: Option<String>,
    /// SMTP server for e-mail, smtp://[user:pass@]host[:port] or smtps://... [default: none,
    /// messages are written to {data dir}/outbox/].
    #[arg(long, env = "TENANTRY_SMTP_URL", global = true, value_name = "URL")]
    pub smtp_url: Option<String>,
    /// The From address of e-mail [default: tenantry@{public URL host}].
    #[arg(
        long,
        env = "TENANTRY_MAIL_FROM",
        global = true,
        value_name = "ADDRESS"
    )]
    pub mail_from: Option<String>,
    /// DNS server (ip:port) asked when verifying federation domains [default: the system
    /// resolver].
    #[arg(long, env = "TENANTRY_DNS_SERVER", global = true, value_name = "ADDR")]
    pub dns_server: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP(S) until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// MSP tenants.
    #[command(subcommand)]
    Msp(tenants::MspCommand),
    /// Customer and standalone tenants.
    #[command(subcommand)]
    Tenant(tenants::TenantCommand),
    /// Networks of a tenant.
    #[command(subcommand)]
    Network(networks::NetworkCommand),
    /// Admins of a tenant.
    #[command(subcommand)]
    Admin(admins::AdminCommand),
    /// Admin API keys.
    #[command(subcommand)]
    Apikey(apikeys::ApiKeyCommand),
    /// The tenant audit log.
    #[command(subcommand)]
    Audit(apikeys::AuditCommand),
    /// OAuth/OIDC clients of a tenant.
    #[command(subcommand)]
    Client(clients::ClientCommand),
    /// SCIM bearer tokens of a tenant.
    #[command(subcommand, name = "scim-token")]
    ScimToken(scim::ScimTokenCommand),
    /// SAML service providers of a tenant.
    #[command(subcommand, name = "saml-sp")]
    SamlSp(saml::SamlSpCommand),
    /// Upstream identity providers of a tenant (inbound federation).
    #[command(subcommand)]
    Federation(federation::FederationCommand),
    /// Token-signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Development certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Create (idempotently) a demo MSP with two customers, print it, then serve.
    Demo(serve::ServeArgs),
}

/// What the CLI prints on failure: one line, and exit 2 for bad input, 1 otherwise.
pub fn fail(e: &Error) -> ExitCode {
    match e {
        Error::Internal(detail) => {
            eprintln!("error: {detail}");
            ExitCode::from(1)
        }
        other => {
            eprintln!("error: {other} ({})", other.code());
            ExitCode::from(2)
        }
    }
}

pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print result: {e}"),
    }
}

fn raw_settings(g: &GlobalArgs, listen: Option<String>) -> RawSettings {
    RawSettings {
        config_file: g.config.clone(),
        data_dir: g.data_dir.clone(),
        database_url: g.database_url.clone(),
        public_url: g.public_url.clone(),
        log_format: g.log_format.clone(),
        log_level: g.log_level.clone(),
        master_key_file: g.master_key_file.clone(),
        master_key: std::env::var("TENANTRY_MASTER_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        sqlite_synchronous: g.sqlite_synchronous.clone(),
        listen,
        smtp_url: g.smtp_url.clone(),
        mail_from: g.mail_from.clone(),
        dns_server: g.dns_server.clone(),
    }
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        crate::config::LogFormat::Json => builder.json().flatten_event(true).try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve(a) | Command::Demo(a) => a.listen.clone(),
        _ => None,
    };
    let config = match Config::load(raw_settings(&cli.global, listen)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli.command, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn run(command: Command, config: Config) -> Result<(), Error> {
    match command {
        Command::Serve(args) => serve::serve(&config, &args).await,
        Command::Demo(args) => demo::demo(&config, &args).await,
        Command::Migrate => {
            let core = open(&config).await?;
            let applied = core.store.applied_migrations().await?;
            print_json(&serde_json::json!({
                "migrations": applied.iter().map(|(v, d)| format!("{v:04}_{}", d.replace(' ', "_"))).collect::<Vec<_>>()
            }));
            Ok(())
        }
        Command::Msp(cmd) => tenants::run_msp(&open(&config).await?, cmd).await,
        Command::Tenant(cmd) => tenants::run_tenant(&open(&config).await?, cmd).await,
        Command::Network(cmd) => networks::run(&open(&config).await?, cmd).await,
        Command::Admin(cmd) => admins::run(&open(&config).await?, cmd).await,
        Command::Apikey(cmd) => apikeys::run_apikey(&open(&config).await?, cmd).await,
        Command::Client(cmd) => clients::run(&open(&config).await?, cmd).await,
        Command::ScimToken(cmd) => scim::run(&open(&config).await?, cmd).await,
        Command::SamlSp(cmd) => saml::run(&open(&config).await?, cmd).await,
        Command::Federation(cmd) => federation::run(&open(&config).await?, cmd).await,
        Command::Keys(cmd) => keys::run(&open(&config).await?, cmd).await,
        Command::Audit(cmd) => apikeys::run_audit(&open(&config).await?, cmd).await,
        Command::Certs(cmd) => {
            let names = match open(&config).await {
                Ok(core) => core
                    .list_tenants(None)
                    .await?
                    .into_iter()
                    .map(|t| t.name)
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "no database: the certificate names no tenant");
                    Vec::new()
                }
            };
            certs::run(&config, cmd, names)
        }
    }
}

/// Core for a command that does not serve: links use the configured or default public URL.
async fn open(config: &Config) -> Result<crate::core::Core, Error> {
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    crate::app::open(config, config.public_url_or_default(), clock).await
}
