//! AppState, `router(state)` (the `App` service) and `serve(listener, state, shutdown)`.

use crate::core::Core;
use crate::http::middleware::{Pipeline, PipelineFuture};
use crate::http::{self, metrics::Metrics};
use axum::extract::Request;
use axum::http::Method;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

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

/// The whole application as one service: the token endpoint, then the Router.
pub fn router(state: AppState) -> App {
    // One layer: the pipeline (request id, host -> tenant, then idempotency for the
    // admin API's POSTs, which needs the tenant).
    let routes = http::routes()
        .layer(http::middleware::PipelineLayer::new(state.clone()))
        .with_state(state.clone());
    App {
        token: Pipeline::endpoint(state.clone(), crate::oidc::TOKEN_PATH, TokenEndpoint(state)),
        routes,
        peer: None,
    }
}

/// The application. `POST /oauth2/token`, the request a client makes most, is served
/// ahead of the Router, through the same pipeline: on the wire, axum's routing of it
/// (path and method match, two boxed clones of the route, two extensions, extractors)
/// cost about 4 µs of the 52 µs a client_credentials request took (bench/oidc.sh,
/// alternating runs). Every other request, the token path's other methods included,
/// goes to the Router.
#[derive(Clone)]
pub struct App {
    token: Pipeline<TokenEndpoint>,
    routes: Router,
    /// The connection's peer, given to every request as `ConnectInfo` (rate limits, audit).
    peer: Option<SocketAddr>,
}

impl App {
    fn for_peer(&self, peer: SocketAddr) -> App {
        App {
            peer: Some(peer),
            ..self.clone()
        }
    }
}

type BoxResponse = std::pin::Pin<
    Box<dyn Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send>,
>;

/// The token endpoint as a service; the pipeline around it has stamped the request.
#[derive(Clone)]
pub struct TokenEndpoint(AppState);

impl tower::Service<Request> for TokenEndpoint {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = BoxResponse;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> BoxResponse {
        let state = self.0.clone();
        Box::pin(async move { Ok(crate::oidc::token_endpoint(state, req).await) })
    }
}

impl<B> tower::Service<axum::http::Request<B>> for App
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both services are always ready (the Router and the pipeline say so).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> AppFuture {
        let mut req = req.map(axum::body::Body::new);
        if let Some(peer) = self.peer {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        if req.method() == Method::POST && req.uri().path() == crate::oidc::TOKEN_PATH {
            AppFuture::Token(self.token.call(req))
        } else {
            AppFuture::Routes(self.routes.call(req))
        }
    }
}

pub enum AppFuture {
    Token(PipelineFuture<BoxResponse>),
    Routes(<Router as tower::Service<Request>>::Future),
}

impl Future for AppFuture {
    type Output = Result<axum::response::Response, std::convert::Infallible>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            AppFuture::Token(f) => std::pin::Pin::new(f).poll(cx),
            AppFuture::Routes(f) => std::pin::Pin::new(f).poll(cx),
        }
    }
}

/// Per connection: the application, with the peer's address.
#[derive(Clone)]
struct MakeApp(App);

impl<L> tower::Service<axum::serve::IncomingStream<'_, L>> for MakeApp
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    type Response = App;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<App, std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, conn: axum::serve::IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.0.for_peer(*conn.remote_addr())))
    }
}

/// The same for axum-server (TLS), which names a connection by its peer address.
impl tower::Service<SocketAddr> for MakeApp {
    type Response = App;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<App, std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, peer: SocketAddr) -> Self::Future {
        std::future::ready(Ok(self.0.for_peer(peer)))
    }
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
    axum::serve(listener, MakeApp(router(state)))
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
        .serve(MakeApp(router(state)))
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
