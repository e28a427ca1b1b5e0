//! `/api/v1/customers` on the MSP host: the overview, create (with `clone_from`), delete.

use crate::app::AppState;
use crate::core::customers::NewCustomer;
use crate::http::error::ApiError;
use crate::http::extract::{paginate, resource, to_value, AppJson, AppQuery, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers", get(list).post(create))
        .route("/api/v1/customers/{name}", get(get_one).delete(remove))
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<super::ListQuery>,
) -> Result<Response, ApiError> {
    let mut items = s.core.api_list_customers(&caller.principal).await?;
    if let Some(needle) = q.q.as_deref().map(str::to_lowercase) {
        items.retain(|c| {
            c.name.contains(&needle) || c.display_name.to_lowercase().contains(&needle)
        });
    }
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<NewCustomer>,
) -> Result<Response, ApiError> {
    let c = s
        .core
        .api_create_customer(&caller.principal, body, caller.request_id.as_deref())
        .await?;
    Ok(resource(StatusCode::CREATED, to_value(&c)))
}

async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(resource(
        StatusCode::OK,
        to_value(&s.core.api_get_customer(&caller.principal, &name).await?),
    ))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    s.core.api_delete_customer(&caller.principal, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
