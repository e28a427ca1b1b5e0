//! The admin API under `/api/v1` on every tenant host (api.md). Thin handlers: take the
//! `Caller`, resolve the org the path names, call one core function, map the result.

mod admins;
mod audit;
mod clients;
mod customers;
mod delegations;
mod federation;
mod mappings;
mod networks;
pub mod openapi;
mod saml_sps;
mod scim_tokens;
mod sessions;
mod settings;
mod staff;

use crate::app::AppState;
use crate::core::manage::OrgCall;
use crate::http::error::ApiError;
use crate::http::extract::Caller;
use axum::routing::{delete, get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/me", get(admins::me))
        .route("/api/v1/me/privileges", get(admins::my_privileges))
        .route("/api/v1/audit/verify", get(audit::verify_host))
        .route(
            "/api/v1/orgs/{org}/networks",
            get(networks::list).post(networks::create),
        )
        .route(
            "/api/v1/orgs/{org}/networks/{id}",
            get(networks::get_one)
                .patch(networks::update)
                .delete(networks::remove),
        )
        .route(
            "/api/v1/orgs/{org}/networks/{id}/port-privileges",
            get(networks::list_ports).post(networks::add_port),
        )
        .route(
            "/api/v1/orgs/{org}/networks/{id}/port-privileges/{name}",
            delete(networks::remove_port),
        )
        .route(
            "/api/v1/orgs/{org}/admins",
            get(admins::list).post(admins::create),
        )
        .route(
            "/api/v1/orgs/{org}/admins/{id}",
            get(admins::get_one)
                .patch(admins::update)
                .delete(admins::remove),
        )
        .route(
            "/api/v1/orgs/{org}/admins/{id}/unlock",
            post(admins::unlock),
        )
        .route(
            "/api/v1/orgs/{org}/admins/{id}/resend-enrolment",
            post(admins::resend),
        )
        .route(
            "/api/v1/orgs/{org}/admins/{id}/recover",
            post(admins::recover),
        )
        .route(
            "/api/v1/orgs/{org}/admins/{id}/api-keys",
            get(admins::list_keys).post(admins::create_key),
        )
        .route(
            "/api/v1/orgs/{org}/api-keys/{id}",
            delete(admins::revoke_key),
        )
        .route("/api/v1/orgs/{org}/explain", get(admins::explain))
        .route("/api/v1/orgs/{org}/who-can", get(admins::who_can))
        .route("/api/v1/orgs/{org}/audit", get(audit::list))
        .route("/api/v1/orgs/{org}/audit/verify", get(audit::verify))
        .merge(settings::routes())
        .merge(delegations::routes())
        .merge(staff::routes())
        .merge(mappings::routes())
        .merge(clients::routes())
        .merge(scim_tokens::routes())
        .merge(saml_sps::routes())
        .merge(federation::routes())
        .merge(sessions::routes())
        .merge(customers::routes())
}

/// The org a path names, as seen by this caller.
async fn org_call(state: &AppState, caller: &Caller, org: &str) -> Result<OrgCall, ApiError> {
    Ok(state
        .core
        .org_call(&caller.principal, org, caller.request_id.clone())
        .await?)
}

/// `?limit=&cursor=&q=` of plain lists.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}
