//! AppState, `router(state)` and `serve(listener, state, shutdown)`.

use crate::core::Core;
use crate::http::{self, metrics::Metrics};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(core: Core) -> Self {
        AppState {
            core: Arc::new(core),
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// The whole application as one axum Router.
pub fn router(state: AppState) -> Router {
    // One layer: the pipeline (request id, host -> tenant, then idempotency for the
    // admin API's POSTs, which needs the tenant).
    http::routes()
        .layer(http::middleware::PipelineLayer::new(state.clone()))
        .with_state(state)
}

/// Serve plain HTTP on `listener` until `shutdown` resolves, then drain in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Responses go out as soon as they are written: without TCP_NODELAY a response written
    // in two segments waits for the peer's delayed ACK (tens of milliseconds).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// TLS material for `serve --tls`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Serve HTTPS (rustls) on `listener` until `shutdown` resolves.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: AppState,
    tls: TlsFiles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(router(state).into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Open the database, apply migrations, load and check the master key: a ready `Core`.
pub async fn open(
    config: &crate::config::Config,
    public_url: crate::config::PublicUrl,
    clock: crate::clock::SharedClock,
) -> crate::error::Result<Core> {
    use crate::config::Database;
    let store = crate::store::Store::connect(&config.database, config.sqlite_synchronous).await?;
    store.migrate().await?;
    let sqlite = matches!(config.database, Database::Sqlite(_));
    let keys = crate::core::secrets::MasterKey::load(&config.master_key, &config.data_dir, sqlite)?;
    keys.check_against(&store).await?;
    let mailer = crate::core::mail::Mailer::from_settings(
        &config.data_dir,
        config.smtp_url.as_deref(),
        config.mail_from.as_deref(),
        public_url.base_domain(),
    )?;
    Ok(Core::new(store, clock, keys, public_url)
        .with_mailer(mailer)
        .with_dns_server(config.dns_server))
}
