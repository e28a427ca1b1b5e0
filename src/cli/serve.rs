//! `tenantry serve`: bind, open the database, serve until SIGINT/SIGTERM.

use crate::app::{self, AppState, TlsFiles};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, PublicUrl};
use crate::core::Core;
use crate::error::{Error, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TENANTRY_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Serve HTTPS with the certificate from `tenantry certs dev` (or --tls-cert/--tls-key).
    #[arg(long)]
    pub tls: bool,
    #[arg(long, value_name = "FILE", default_value = "certs/tls.pem")]
    pub tls_cert: PathBuf,
    #[arg(long, value_name = "FILE", default_value = "certs/tls-key.pem")]
    pub tls_key: PathBuf,
    /// Tests only: let discovery and metadata URLs be http and name private or loopback
    /// addresses (decisions.md "SAML and federation").
    #[arg(long)]
    pub allow_insecure_fetch: bool,
}

/// A bound listener and the public URL that goes with it.
pub struct Bound {
    listener: std::net::TcpListener,
    pub public_url: PublicUrl,
    allow_insecure_fetch: bool,
}

/// Bind first, so that a port-0 listen gives the public URL its real port.
pub fn bind(config: &Config, args: &ServeArgs) -> Result<Bound> {
    let listener = std::net::TcpListener::bind(config.listen).map_err(|e| {
        Error::invalid("listen", format!("cannot listen on {}: {e}", config.listen))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::internal(format!("listener: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("listener: {e}")))?
        .port();
    let public_url = match &config.public_url {
        Some(u) => u.clone(),
        None => {
            let scheme = if args.tls { "https" } else { "http" };
            PublicUrl::parse(&format!("{scheme}://localhost"))
                .map(|u| u.with_port(port))
                .map_err(Error::internal)?
        }
    };
    Ok(Bound {
        listener,
        public_url,
        allow_insecure_fetch: args.allow_insecure_fetch,
    })
}

pub async fn open_core(config: &Config, bound: &Bound) -> Result<Core> {
    let clock: SharedClock = Arc::new(SystemClock);
    Ok(app::open(config, bound.public_url.clone(), clock)
        .await?
        .with_insecure_fetch(bound.allow_insecure_fetch))
}

pub async fn run_bound(core: Core, bound: Bound, args: &ServeArgs) -> Result<()> {
    let addr = bound
        .listener
        .local_addr()
        .map_err(|e| Error::internal(format!("listener: {e}")))?;
    tracing::info!(%addr, public_url = %bound.public_url, tls = args.tls, "listening");
    let state = AppState::new(core);
    let served = if args.tls {
        let tls = TlsFiles {
            cert: args.tls_cert.clone(),
            key: args.tls_key.clone(),
        };
        if !tls.cert.exists() || !tls.key.exists() {
            return Err(Error::invalid(
                "tls",
                format!(
                    "{} or {} is missing: run `tenantry certs dev` first",
                    tls.cert.display(),
                    tls.key.display()
                ),
            ));
        }
        app::serve_tls(bound.listener, state, tls, app::shutdown_signal()).await
    } else {
        let listener = tokio::net::TcpListener::from_std(bound.listener)
            .map_err(|e| Error::internal(format!("listener: {e}")))?;
        app::serve(listener, state, app::shutdown_signal()).await
    };
    served.map_err(|e| Error::internal(format!("server: {e}")))
}

pub async fn serve(config: &Config, args: &ServeArgs) -> Result<()> {
    let bound = bind(config, args)?;
    let core = open_core(config, &bound).await?;
    run_bound(core, bound, args).await
}
