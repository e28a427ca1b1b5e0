//! `/scim/v2/...` on tenant hosts: bearer-token authentication (a SCIM token of this
//! tenant and no other), JSON in and `application/scim+json` out, errors in the SCIM error
//! schema, ETags (`meta.version`) with `If-Match` and `If-None-Match`.

use super::error::{ScimError, ScimResult};
use super::schema;
use crate::app::AppState;
use crate::core::scim::{bulk, Kind, ListParams, Resource, Wants};
use crate::http::middleware::HostContext;
use crate::tenancy::Tenant;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub const CONTENT_TYPE: &str = "application/scim+json";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema_one))
        .route("/scim/v2/Me", axum::routing::any(me))
        .route("/scim/v2/Bulk", post(bulk_request))
        .route("/scim/v2/.search", post(search_root))
        .route("/scim/v2/Users", get(list).post(create))
        .route("/scim/v2/Users/.search", post(search))
        .route(
            "/scim/v2/Users/{id}",
            get(get_one).put(put).patch(patch).delete(delete),
        )
        .route("/scim/v2/Groups", get(list).post(create))
        .route("/scim/v2/Groups/.search", post(search))
        .route(
            "/scim/v2/Groups/{id}",
            get(get_one).put(put).patch(patch).delete(delete),
        )
        .route("/scim/v2", axum::routing::any(not_found))
        .route("/scim/v2/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::map_response(scim_body_limit))
        .layer(axum::extract::DefaultBodyLimit::max(4 * bulk::MAX_PAYLOAD))
}

/// Bodies past the hard limit are refused by axum before a handler runs: answer them in
/// the SCIM error schema too.
async fn scim_body_limit(resp: Response) -> Response {
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes() != CONTENT_TYPE.as_bytes());
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && plain {
        return ScimResponseError(ScimError::new(
            413,
            Some(super::error::ScimType::TooMany),
            format!("the request body exceeds {} bytes", bulk::MAX_PAYLOAD),
        ))
        .into_response();
    }
    resp
}

/// A SCIM error as a response.
pub struct ScimResponseError(pub ScimError);

impl From<ScimError> for ScimResponseError {
    fn from(e: ScimError) -> Self {
        ScimResponseError(e)
    }
}

impl IntoResponse for ScimResponseError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = scim_json(status, &self.0.body());
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        resp
    }
}

fn scim_json(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        v.to_string(),
    )
        .into_response()
}

/// The tenant of the host, for the unauthenticated discovery endpoints.
pub struct ScimTenant(pub Arc<Tenant>);

impl FromRequestParts<AppState> for ScimTenant {
    type Rejection = ScimResponseError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match HostContext::of(&parts.extensions) {
            Some(HostContext::Tenant(t)) => Ok(ScimTenant(t.clone())),
            _ => Err(ScimError::not_found("not found").into()),
        }
    }
}

/// An authenticated directory: the host's tenant and the id of the SCIM token used.
pub struct Directory {
    pub tenant: Arc<Tenant>,
    pub token_id: String,
}

impl FromRequestParts<AppState> for Directory {
    type Rejection = ScimResponseError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ScimTenant(tenant) = ScimTenant::from_request_parts(parts, state).await?;
        let unauthorized = || {
            ScimError::new(
                401,
                None,
                "a valid SCIM bearer token of this organization is required",
            )
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string())
            .ok_or_else(unauthorized)?;
        let id = state
            .core
            .authenticate_scim_token(&tenant, &token)
            .await
            .map_err(ScimError::from)?
            .ok_or_else(unauthorized)?;
        Ok(Directory {
            tenant,
            token_id: id,
        })
    }
}

type Answer = Result<Response, ScimResponseError>;

/// Run a directory request; count its error in the tenant's sync status.
async fn counted<F>(s: &AppState, d: &Directory, f: F) -> Answer
where
    F: std::future::Future<Output = ScimResult<Response>>,
{
    match f.await {
        Ok(r) => Ok(r),
        Err(e) => {
            if e.status != 404 && e.status != 412 {
                s.core.scim_record_error(&d.tenant, &e).await;
            }
            Err(e.into())
        }
    }
}

fn parse_body(body: &Bytes) -> ScimResult<Value> {
    if body.len() > bulk::MAX_PAYLOAD {
        return Err(ScimError::new(
            413,
            Some(super::error::ScimType::TooMany),
            format!("the request body exceeds {} bytes", bulk::MAX_PAYLOAD),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

/// Query parameters, names compared case-insensitively.
fn query_params(raw: Option<&str>) -> ListParams {
    let mut p = ListParams::default();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let v = v.into_owned();
        match k.to_ascii_lowercase().as_str() {
            "filter" => p.filter = Some(v),
            "sortby" => p.sort_by = Some(v),
            "sortorder" => p.sort_order = Some(v),
            "startindex" => p.start_index = Some(v.trim().parse().unwrap_or(1)),
            "count" => p.count = Some(v.trim().parse().unwrap_or(0)),
            "attributes" => p.attributes = Some(v),
            "excludedattributes" => p.excluded_attributes = Some(v),
            _ => {}
        }
    }
    p
}

/// A SearchRequest body (RFC 7644 §3.4.3).
fn search_params(body: &Value) -> ScimResult<ListParams> {
    let schemas = body.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|u| u.as_str() == Some(schema::SEARCH_URN))) {
        return Err(ScimError::invalid_syntax(format!(
            "a search request lists {} in schemas",
            schema::SEARCH_URN
        )));
    }
    let list = |k: &str| -> ScimResult<Option<String>> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(a)) => Ok(Some(
                a.iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| ScimError::invalid_value(format!("{k} lists strings")))?
                    .join(","),
            )),
            _ => Err(ScimError::invalid_value(format!("{k} lists strings"))),
        }
    };
    let text = |k: &str| -> ScimResult<Option<String>> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => Err(ScimError::invalid_value(format!("{k} is a string"))),
        }
    };
    let int = |k: &str| -> ScimResult<Option<i64>> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{k} is an integer"))),
        }
    };
    Ok(ListParams {
        filter: text("filter")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        start_index: int("startIndex")?,
        count: int("count")?,
        attributes: list("attributes")?,
        excluded_attributes: list("excludedAttributes")?,
    })
}

fn resource_response(
    status: StatusCode,
    r: &Resource,
    projected: &Value,
    location: bool,
) -> Response {
    let mut resp = scim_json(status, projected);
    if let Ok(v) = HeaderValue::from_str(&r.etag()) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if location {
        if let Some(Ok(v)) = r.doc["meta"]["location"]
            .as_str()
            .map(HeaderValue::from_str)
        {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    resp
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

// Discovery (no authentication: it names nothing of the tenant's data).

async fn service_provider_config(State(s): State<AppState>, ScimTenant(t): ScimTenant) -> Response {
    scim_json(
        StatusCode::OK,
        &schema::service_provider_config(&s.core.scim_base(&t)),
    )
}

fn list_response(items: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": [schema::LIST_URN],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

async fn resource_types(State(s): State<AppState>, ScimTenant(t): ScimTenant) -> Response {
    scim_json(
        StatusCode::OK,
        &list_response(schema::resource_types(&s.core.scim_base(&t))),
    )
}

async fn resource_type(
    State(s): State<AppState>,
    ScimTenant(t): ScimTenant,
    Path(id): Path<String>,
) -> Answer {
    schema::resource_type_by_id(&s.core.scim_base(&t), &id)
        .map(|v| scim_json(StatusCode::OK, &v))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {id}")).into())
}

async fn schemas(State(s): State<AppState>, ScimTenant(t): ScimTenant) -> Response {
    scim_json(
        StatusCode::OK,
        &list_response(schema::schemas(&s.core.scim_base(&t))),
    )
}

async fn schema_one(
    State(s): State<AppState>,
    ScimTenant(t): ScimTenant,
    Path(id): Path<String>,
) -> Answer {
    schema::schema_by_id(&s.core.scim_base(&t), &id)
        .map(|v| scim_json(StatusCode::OK, &v))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")).into())
}

async fn me(_d: Directory) -> Answer {
    Err(ScimError::new(
        501,
        None,
        "/Me is not supported: SCIM clients here are directories, not users",
    )
    .into())
}

async fn not_found(_t: ScimTenant) -> Answer {
    Err(ScimError::not_found("no such SCIM endpoint").into())
}

// Resources: one handler per operation for both kinds; [`Target`] tells which.

/// The resource kind of the route (`/Users...` or `/Groups...`) and its `{id}`, if any.
pub struct Target {
    kind: Kind,
    id: String,
}

impl FromRequestParts<AppState> for Target {
    type Rejection = ScimResponseError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let kind = match parts.uri.path().starts_with("/scim/v2/Groups") {
            true => Kind::Group,
            false => Kind::User,
        };
        let id = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|Path(mut m)| m.remove("id"))
            .unwrap_or_default();
        Ok(Target { kind, id })
    }
}

/// A resource answered with the projection the query asks for.
fn projected(status: StatusCode, r: &Resource, q: Option<&str>, location: bool) -> Answer {
    let p = query_params(q);
    let v = schema::project(
        r.kind.schema(),
        &r.doc,
        p.attributes.as_deref(),
        p.excluded_attributes.as_deref(),
    )?;
    Ok(resource_response(status, r, &v, location))
}

async fn run_list(s: AppState, d: Directory, kind: Kind, params: ListParams) -> Answer {
    counted(&s, &d, async {
        let v = s.core.scim_list(&d.tenant, kind, &params).await?;
        Ok(scim_json(StatusCode::OK, &v))
    })
    .await
}

async fn list(State(s): State<AppState>, d: Directory, t: Target, RawQuery(q): RawQuery) -> Answer {
    run_list(s, d, t.kind, query_params(q.as_deref())).await
}

async fn search(State(s): State<AppState>, d: Directory, t: Target, body: Bytes) -> Answer {
    let params = match parse_body(&body).and_then(|b| search_params(&b)) {
        Ok(p) => p,
        Err(e) => return counted(&s, &d, async { Err(e) }).await,
    };
    run_list(s, d, t.kind, params).await
}

/// POST /.search: Users then Groups, paginated over both.
async fn search_root(State(s): State<AppState>, d: Directory, body: Bytes) -> Answer {
    counted(&s, &d, async {
        let params = search_params(&parse_body(&body)?)?;
        let start = params.start_index.unwrap_or(1).max(1);
        let count = params
            .count
            .unwrap_or(100)
            .clamp(0, crate::core::scim::MAX_RESULTS);
        let mut all = Vec::new();
        let mut total = 0;
        for kind in [Kind::User, Kind::Group] {
            let p = ListParams {
                start_index: Some(1),
                count: Some(start - 1 + count),
                ..params.clone()
            };
            let v = s.core.scim_list(&d.tenant, kind, &p).await?;
            total += v["totalResults"].as_i64().unwrap_or(0);
            if let Some(list) = v["Resources"].as_array() {
                all.extend(list.iter().cloned());
            }
        }
        let page: Vec<Value> = all
            .into_iter()
            .skip((start - 1) as usize)
            .take(count as usize)
            .collect();
        Ok(scim_json(
            StatusCode::OK,
            &serde_json::json!({
                "schemas": [schema::LIST_URN],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": page.len(),
                "Resources": page,
            }),
        ))
    })
    .await
}

async fn get_one(
    State(s): State<AppState>,
    d: Directory,
    t: Target,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Answer {
    counted(&s, &d, async {
        let p = query_params(q.as_deref());
        let wants = Wants::of(
            t.kind,
            p.attributes.as_deref(),
            p.excluded_attributes.as_deref(),
        );
        let r = s.core.scim_get(&d.tenant, t.kind, &t.id, wants).await?;
        let inm = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok());
        if inm.is_some_and(|h| crate::core::scim::etag_matches(h, r.version)) {
            let mut resp = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(v) = HeaderValue::from_str(&r.etag()) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            return Ok(resp);
        }
        projected(StatusCode::OK, &r, q.as_deref(), false).map_err(|e| e.0)
    })
    .await
}

async fn create(
    State(s): State<AppState>,
    d: Directory,
    t: Target,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    counted(&s, &d, async {
        let body = parse_body(&body)?;
        let r = s
            .core
            .scim_create(&d.tenant, t.kind, &body, &d.token_id)
            .await?;
        projected(StatusCode::CREATED, &r, q.as_deref(), true).map_err(|e| e.0)
    })
    .await
}

#[derive(Clone, Copy)]
enum Write {
    Put,
    Patch,
}

async fn update(
    s: AppState,
    d: Directory,
    t: Target,
    how: Write,
    q: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    counted(&s, &d, async {
        let body = parse_body(&body)?;
        let (tenant, im, token) = (&d.tenant, if_match(&headers), &d.token_id);
        let r = match how {
            Write::Put => {
                s.core
                    .scim_replace(tenant, t.kind, &t.id, &body, im.as_deref(), token)
                    .await?
            }
            Write::Patch => {
                s.core
                    .scim_patch(tenant, t.kind, &t.id, &body, im.as_deref(), token)
                    .await?
            }
        };
        projected(StatusCode::OK, &r, q.as_deref(), false).map_err(|e| e.0)
    })
    .await
}

async fn put(
    State(s): State<AppState>,
    d: Directory,
    t: Target,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    update(s, d, t, Write::Put, q, headers, body).await
}

async fn patch(
    State(s): State<AppState>,
    d: Directory,
    t: Target,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    update(s, d, t, Write::Patch, q, headers, body).await
}

async fn delete(State(s): State<AppState>, d: Directory, t: Target, headers: HeaderMap) -> Answer {
    counted(&s, &d, async {
        let im = if_match(&headers);
        s.core
            .scim_delete(&d.tenant, t.kind, &t.id, im.as_deref(), &d.token_id)
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn bulk_request(State(s): State<AppState>, d: Directory, body: Bytes) -> Answer {
    counted(&s, &d, async {
        let body = parse_body(&body)?;
        let v = s.core.scim_bulk(&d.tenant, &body, &d.token_id).await?;
        Ok(scim_json(StatusCode::OK, &v))
    })
    .await
}
