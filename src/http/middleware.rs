//! The outer request pipeline: request id, host -> tenant resolution, logging and metrics.
//!
//! Logs carry the route template, never the path (paths may hold tokens, product.md).

use super::error::ApiError;
use crate::app::AppState;
use crate::tenancy::{classify_host, HostKind, Tenant};
use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// A constant name: inserting a custom header by `&str` copies the name every time.
pub const REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// The request's id: the caller's if it is 1-64 chars of `[A-Za-z0-9_-]`, else a new one.
/// Held inline: one is made for every request.
#[derive(Clone)]
pub struct RequestId {
    bytes: [u8; 64],
    len: u8,
}

impl RequestId {
    /// `id` is 1-64 bytes of `[A-Za-z0-9_-]` (checked by the caller).
    fn from_ascii(id: &[u8]) -> RequestId {
        let mut bytes = [0u8; 64];
        let len = id.len().min(64);
        bytes[..len].copy_from_slice(&id[..len]);
        RequestId {
            bytes,
            len: len as u8,
        }
    }

    /// The id the pipeline gave this request.
    pub fn of(ext: &axum::http::Extensions) -> Option<&RequestId> {
        ext.get::<Stamp>().map(|s| &s.rid)
    }

    pub fn as_str(&self) -> &str {
        // ASCII by construction.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn request_id(req: &Request) -> RequestId {
    match req.headers().get(REQUEST_ID).map(|v| v.as_bytes()) {
        Some(v)
            if !v.is_empty()
                && v.len() <= 64
                && v.iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_') =>
        {
            RequestId::from_ascii(v)
        }
        _ => RequestId::from_ascii(&crate::ids::request_id()),
    }
}

/// What the Host header designates.
#[derive(Debug, Clone)]
pub enum HostContext {
    /// The bare base host or an IP literal.
    Base,
    Tenant(Arc<Tenant>),
    Unknown,
}

/// What the pipeline learned of a request, kept in its extensions as one entry: the
/// request id and the host's tenant are read by many routes, and each extension is a
/// boxed value of its own.
#[derive(Debug, Clone)]
struct Stamp {
    rid: RequestId,
    host: HostContext,
}

impl HostContext {
    /// What this request's Host header designates, as the pipeline resolved it.
    pub fn of(ext: &axum::http::Extensions) -> Option<&HostContext> {
        ext.get::<Stamp>().map(|s| &s.host)
    }

    fn kind_label(&self) -> &'static str {
        match self {
            HostContext::Base => "none",
            HostContext::Unknown => "unknown",
            HostContext::Tenant(t) => t.kind.as_str(),
        }
    }
}

/// A route outside the pipeline has neither: a bug, answered 500.
fn unstamped() -> ApiError {
    ApiError(crate::error::Error::internal(
        "request not stamped by the pipeline",
    ))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        RequestId::of(&parts.extensions)
            .cloned()
            .ok_or_else(unstamped)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HostContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        HostContext::of(&parts.extensions)
            .cloned()
            .ok_or_else(unstamped)
    }
}

/// Routes that answer on any host.
fn any_host(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The pipeline as a tower layer over each route (`Router::layer`, so the matched route
/// is known). A plain service rather than `from_fn`: the common request (a known tenant
/// from the cached snapshot, no idempotency key) resolves its host synchronously and
/// wraps the route's own future, with no boxing and no clone of the route per request.
#[derive(Clone)]
pub struct PipelineLayer {
    state: AppState,
}

impl PipelineLayer {
    pub fn new(state: AppState) -> Self {
        PipelineLayer { state }
    }
}

impl<S> tower::Layer<S> for PipelineLayer {
    type Service = Pipeline<S>;

    fn layer(&self, inner: S) -> Pipeline<S> {
        Pipeline {
            state: self.state.clone(),
            inner,
            route: None,
        }
    }
}

#[derive(Clone)]
pub struct Pipeline<S> {
    state: AppState,
    inner: S,
    /// The route template of a service mounted outside the Router (`app::App`); a route
    /// inside the Router is known by the `MatchedPath` the Router inserts.
    route: Option<&'static str>,
}

impl<S> Pipeline<S> {
    /// The pipeline around one endpoint served outside the Router, at `route`.
    pub fn endpoint(state: AppState, route: &'static str, inner: S) -> Self {
        Pipeline {
            state,
            inner,
            route: Some(route),
        }
    }
}

/// The route a request matched, for logs and metrics.
enum RouteName {
    Matched(MatchedPath),
    Fixed(&'static str),
    Unmatched,
}

/// What the response needs from the request once the route has answered.
pub struct Finish {
    started: Instant,
    /// The request id as the response header carries it (the request's `Stamp` holds it
    /// inline for the routes).
    rid: HeaderValue,
    route: RouteName,
    kind: &'static str,
    metrics: Arc<super::metrics::Metrics>,
}

impl Finish {
    fn route(&self) -> &str {
        match &self.route {
            RouteName::Matched(m) => m.as_str(),
            RouteName::Fixed(r) => r,
            RouteName::Unmatched => "unmatched",
        }
    }

    fn apply(self, mut resp: Response) -> Response {
        let status = resp.status().as_u16();
        let elapsed = self.started.elapsed();
        let route = self.route();
        self.metrics.record(route, status, self.kind, elapsed);
        tracing::info!(
            request_id = self.rid.to_str().unwrap_or_default(),
            route = %route,
            tenant_kind = self.kind,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        resp.headers_mut().insert(REQUEST_ID, self.rid);
        resp
    }
}

type BoxResponse = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

pub enum PipelineFuture<F> {
    /// The route's future, run inside the request's span.
    Route {
        inner: F,
        span: tracing::Span,
        finish: Option<Finish>,
    },
    /// Tenant snapshot due a check, or an idempotent admin POST: the general path.
    Boxed(BoxResponse),
    Ready(Option<Response>),
}

impl<F> std::future::Future for PipelineFuture<F>
where
    F: std::future::Future<Output = Result<Response, std::convert::Infallible>> + Unpin,
{
    type Output = Result<Response, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        match self.get_mut() {
            PipelineFuture::Route {
                inner,
                span,
                finish,
            } => {
                let entered = span.enter();
                let resp = match std::pin::Pin::new(inner).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(r)) => r,
                    Poll::Ready(Err(never)) => match never {},
                };
                drop(entered);
                Poll::Ready(Ok(match finish.take() {
                    Some(f) => f.apply(resp),
                    None => resp,
                }))
            }
            PipelineFuture::Boxed(b) => b.as_mut().poll(cx).map(Ok),
            PipelineFuture::Ready(r) => Poll::Ready(Ok(r.take().unwrap_or_else(|| {
                ApiError(crate::error::Error::internal("response polled twice")).into_response()
            }))),
        }
    }
}

fn host_of(req: &Request) -> &str {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default()
}

fn unavailable(rid: &RequestId, e: &crate::error::Error) -> Response {
    tracing::error!(error = %e, request_id = %rid, "tenant lookup failed");
    let mut resp = super::error::error_body(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The service is temporarily unavailable.",
    );
    set_request_id(&mut resp, rid.as_str());
    resp
}

impl<S> tower::Service<Request> for Pipeline<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + Unpin + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = PipelineFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let rid = request_id(&req);
        let ctx = match classify_host(host_of(&req), self.state.core.public_url.base_domain()) {
            HostKind::Base => HostContext::Base,
            HostKind::Other => HostContext::Unknown,
            HostKind::Label(label) => match self.state.core.tenants.by_name_now(&label) {
                Some(Some(t)) => HostContext::Tenant(t),
                Some(None) => HostContext::Unknown,
                None => {
                    // The snapshot is due a check: look the tenant up the waiting way.
                    let label = label.into_owned();
                    let (state, inner, route) =
                        (self.state.clone(), self.inner.clone(), self.route);
                    return PipelineFuture::Boxed(Box::pin(async move {
                        match state.core.tenants.by_name(&label).await {
                            Ok(found) => {
                                let ctx = found.map_or(HostContext::Unknown, HostContext::Tenant);
                                general(state, inner, req, rid, started, ctx, route).await
                            }
                            Err(e) => unavailable(&rid, &e),
                        }
                    }));
                }
            },
        };
        if super::idempotency::applies(&req) {
            let (state, inner) = (self.state.clone(), self.inner.clone());
            let route = self.route;
            return PipelineFuture::Boxed(Box::pin(general(
                state, inner, req, rid, started, ctx, route,
            )));
        }
        let mut req = req;
        let (span, finish) = match admit(&self.state, &mut req, rid, started, ctx, self.route) {
            Ok(admitted) => admitted,
            Err(refused) => return PipelineFuture::Ready(Some(*refused)),
        };
        PipelineFuture::Route {
            inner: self.inner.call(req),
            span,
            finish: Some(finish),
        }
    }
}

/// Check the host against the path and stamp the request. A host serves no path it does
/// not know (unknown host, or a tenant path on the bare host: reveal nothing).
fn admit(
    state: &AppState,
    req: &mut Request,
    rid: RequestId,
    started: Instant,
    ctx: HostContext,
    fixed_route: Option<&'static str>,
) -> Result<(tracing::Span, Finish), Box<Response>> {
    // MatchedPath is reference-counted: no allocation per request.
    let route = match fixed_route {
        Some(r) => RouteName::Fixed(r),
        None => req
            .extensions()
            .get::<MatchedPath>()
            .cloned()
            .map_or(RouteName::Unmatched, RouteName::Matched),
    };
    let kind = ctx.kind_label();
    let path_allowed = any_host(req.uri().path())
        || match &ctx {
            HostContext::Tenant(_) => true,
            HostContext::Base => req.uri().path() == "/",
            HostContext::Unknown => false,
        };
    let finish = Finish {
        started,
        rid: rid_header(rid.as_str()),
        route,
        kind,
        metrics: state.metrics.clone(),
    };
    if !path_allowed {
        return Err(Box::new(
            finish.apply(ApiError::not_found().into_response()),
        ));
    }
    let span = tracing::info_span!("request", request_id = %rid, method = %req.method(), route = %finish.route(), tenant_kind = kind);
    req.extensions_mut().insert(Stamp { rid, host: ctx });
    Ok((span, finish))
}

/// The general path: any host context, idempotency for the admin API's POSTs.
async fn general<S>(
    state: AppState,
    mut inner: S,
    req: Request,
    rid: RequestId,
    started: Instant,
    ctx: HostContext,
    route: Option<&'static str>,
) -> Response
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    let mut req = req;
    let (span, finish) = match admit(&state, &mut req, rid, started, ctx, route) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let run = |req: Request| async move {
        use tower::ServiceExt;
        match inner.ready().await {
            Ok(svc) => match svc.call(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            },
            Err(never) => match never {},
        }
    };
    // The idempotency layer passes any request it does not apply to straight to `run`.
    let resp = super::idempotency::layer(state, req, run)
        .instrument(span)
        .await;
    finish.apply(resp)
}

/// A request id is `[A-Za-z0-9_-]` by construction (`request_id`), always a valid value.
fn rid_header(rid: &str) -> HeaderValue {
    HeaderValue::from_str(rid).unwrap_or(HeaderValue::from_static("-"))
}

fn set_request_id(resp: &mut Response, rid: &str) {
    resp.headers_mut().insert(REQUEST_ID, rid_header(rid));
}

/// The tenant this host resolves to; any other host answers 404.
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub Arc<Tenant>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match HostContext::of(&parts.extensions) {
            Some(HostContext::Tenant(t)) => Ok(CurrentTenant(t.clone())),
            _ => Err(ApiError::not_found()),
        }
    }
}
