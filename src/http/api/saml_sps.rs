//! `/api/v1/orgs/{org}/saml-sps...` (api.md "integrations"): SAML service providers,
//! registered from their metadata XML or from a metadata URL fetched once (https only,
//! no private addresses unless `serve --allow-insecure-fetch`). Org read-only access lists
//! them, org full access registers and deletes them.

use super::org_call;
use crate::app::AppState;
use crate::core::Error;
use crate::http::error::ApiError;
use crate::http::extract::{paginate, resource, to_value, AppJson, AppQuery, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/saml-sps", get(list).post(create))
        .route("/api/v1/orgs/{org}/saml-sps/{id}", delete(remove))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSp {
    /// The SP's metadata document (an md:EntityDescriptor), as XML text.
    pub metadata: Option<String>,
    /// Or where to fetch it from, once.
    pub metadata_url: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<Page>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_saml_sps(&call).await?;
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(body): AppJson<NewSp>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    // Privileges first: a caller who may not register learns nothing from parsing.
    call.require_org_full("register service providers")?;
    let new = match (body.metadata, body.metadata_url) {
        (Some(xml), None) => crate::saml::parse_sp_metadata(&xml)
            .map_err(|m| Error::invalid("invalid_metadata", m))?,
        (None, Some(url)) => crate::saml::fetch_sp_metadata(&url, s.core.allow_insecure_fetch)
            .await
            .map_err(|m| Error::invalid("invalid_metadata_url", m))?,
        _ => {
            return Err(Error::invalid(
                "invalid_metadata",
                "give either metadata (XML) or metadata_url",
            )
            .into())
        }
    };
    let sp = s.core.api_register_saml_sp(&call, new).await?;
    Ok(resource(StatusCode::CREATED, to_value(&sp)))
}

pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core.api_delete_saml_sp(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
