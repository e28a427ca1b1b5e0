//! Extractors of the admin API: the authenticated `Caller`, JSON bodies and query strings
//! that answer bad input in the API's own error format (api.md), and ETag helpers.

use super::error::ApiError;
use super::middleware::{HostContext, RequestId};
use crate::app::AppState;
use crate::core::privileges::Principal;
use crate::error::Error;
use crate::tenancy::Tenant;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// An authenticated admin on a tenant host: `Authorization: Bearer tnt_ak_...`. Never a
/// cookie (security.md). Access tokens of this tenant with the `admin` scope and the
/// admin API audience are accepted beside API keys.
#[derive(Debug, Clone)]
pub struct Caller {
    pub host: Arc<Tenant>,
    pub principal: Principal,
    pub request_id: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let host = match HostContext::of(&parts.extensions) {
            Some(HostContext::Tenant(t)) => t.clone(),
            _ => return Err(ApiError::not_found()),
        };
        let request_id = RequestId::of(&parts.extensions).map(|r| r.as_str().to_string());
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = match header {
            None => {
                return Err(ApiError(Error::Unauthenticated {
                    code: "missing_credentials",
                    message: "this API needs `Authorization: Bearer <API key>`".into(),
                }))
            }
            Some(h) => match h.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                _ => {
                    return Err(ApiError(Error::Unauthenticated {
                        code: "invalid_request",
                        message: "use the Bearer scheme".into(),
                    }))
                }
            },
        };
        let principal = if token.starts_with(crate::core::apikeys::API_KEY_PREFIX) {
            state.core.authenticate_api_key(&host, token).await?
        } else {
            state.core.principal_from_access_token(&host, token).await?
        };
        match principal {
            Some(principal) => Ok(Caller {
                host,
                principal,
                request_id,
            }),
            None => Err(ApiError(Error::Unauthenticated {
                code: "invalid_token",
                message: "the credentials are not valid for this organization".into(),
            })),
        }
    }
}

/// A JSON body; unknown fields are refused (400 `unknown_field`), malformed JSON is
/// 400 `invalid_json`.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                ApiError(Error::invalid(
                    "invalid_body",
                    "the request body could not be read",
                ))
            })?;
        parse_json(&bytes).map(AppJson).map_err(ApiError)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        if text.starts_with("unknown field") {
            Error::invalid("unknown_field", text)
        } else {
            Error::invalid(
                "invalid_json",
                format!("the body is not the JSON expected: {text}"),
            )
        }
    })
}

/// A query string; bad values answer 400 `invalid_query`.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or_default();
        serde_urlencoded_like(q).map(AppQuery).map_err(ApiError)
    }
}

fn serde_urlencoded_like<T: DeserializeOwned>(q: &str) -> Result<T, Error> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| Error::invalid("invalid_query", "bad query string"))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| Error::invalid("invalid_query", e.body_text()))
}

/// A resource as JSON for ETags and responses.
pub fn to_value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A strong ETag over a resource's JSON.
pub fn etag_of(value: &serde_json::Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    format!("\"{}\"", hex::encode(&digest[..12]))
}

/// `If-Match` must name the current version when present.
pub fn check_if_match(headers: &HeaderMap, current: &serde_json::Value) -> Result<(), Error> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let etag = etag_of(current);
    if wanted.trim() == "*"
        || wanted
            .split(',')
            .any(|w| w.trim().trim_start_matches("W/") == etag)
    {
        Ok(())
    } else {
        Err(Error::Stale)
    }
}

/// A resource response with its ETag.
pub fn resource(status: StatusCode, value: serde_json::Value) -> Response {
    let etag = etag_of(&value);
    let mut resp = (status, axum::Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// `{"items": [...], "next_cursor": ...}` over an already ordered list, with an opaque
/// cursor (the index of the next item) and a limit of at most 500.
pub fn paginate<T: serde::Serialize>(
    items: Vec<T>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<serde_json::Value, Error> {
    use base64::Engine;
    let limit = limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(Error::invalid(
            "invalid_limit",
            "limit must be between 1 and 500",
        ));
    }
    let start = match cursor {
        None | Some("") => 0usize,
        Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("i:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| {
                Error::invalid("invalid_cursor", "the cursor is not one this API issued")
            })?,
    };
    let total = items.len();
    let end = (start + limit as usize).min(total);
    let page: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    let next = (end < total)
        .then(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("i:{end}")));
    Ok(serde_json::json!({ "items": page, "next_cursor": next }))
}

/// A request body as one `Bytes`, refused past `limit` (or when the client breaks off).
/// What `axum::body::to_bytes` does, without its frame list: a form arrives in one frame,
/// handed over as it came, with no allocation or copy.
pub async fn body_bytes(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, ()> {
    use axum::body::HttpBody;
    let mut body = body;
    if body.size_hint().lower() > limit as u64 {
        return Err(());
    }
    let mut first: Option<axum::body::Bytes> = None;
    let mut more: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let Ok(data) = frame.map_err(|_| ())?.into_data() else {
            continue; // trailers: not part of the content
        };
        len += data.len();
        if len > limit {
            return Err(());
        }
        match &first {
            None => first = Some(data),
            Some(f) => {
                if more.is_empty() {
                    more.extend_from_slice(f);
                }
                more.extend_from_slice(&data);
            }
        }
    }
    Ok(if more.is_empty() {
        first.unwrap_or_default()
    } else {
        more.into()
    })
}

#[cfg(test)]
mod body_tests {
    use super::body_bytes;
    use axum::body::{Body, Bytes, HttpBody};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that arrives in the given chunks, with no length known ahead.
    struct Chunks(Vec<&'static str>);

    impl HttpBody for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            if self.0.is_empty() {
                return Poll::Ready(None);
            }
            let chunk = self.0.remove(0);
            Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
                chunk.as_bytes(),
            )))))
        }
    }

    #[tokio::test]
    async fn bodies_arrive_whole_in_one_frame_or_many_and_stop_at_the_limit() {
        let one = body_bytes(Body::from("a=1&b=2"), 16).await;
        assert_eq!(one.as_deref(), Ok(&b"a=1&b=2"[..]));
        let many = body_bytes(Body::new(Chunks(vec!["a=1", "&b", "=2"])), 16).await;
        assert_eq!(many.as_deref(), Ok(&b"a=1&b=2"[..]));
        assert_eq!(body_bytes(Body::empty(), 16).await.as_deref(), Ok(&b""[..]));
        // Past the limit: known ahead (a sized body), or only once the frames add up.
        assert!(body_bytes(Body::from("x".repeat(17)), 16).await.is_err());
        let streamed = Chunks(vec!["0123456789", "0123456789"]);
        assert!(body_bytes(Body::new(streamed), 16).await.is_err());
    }
}
