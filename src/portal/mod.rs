//! The web console under `/portal` on every tenant host (issue 8, product.md "MSP model"):
//! server-rendered pages over the same core functions as the admin API, so every rule of
//! privileges.md applies and its error is shown next to the form that broke it.
//!
//! Who the caller is comes from the browser session of this host (the cookie of
//! `/login`), turned into the admin-API `Principal` of the same user
//! (`Core::principal_from_session`); an MSP user switched into a customer is that MSP
//! user, as with a token carrying `act`. Pages never decide privileges themselves: they
//! show what core lists for the caller and hide forms core would refuse.
//!
//! Like src/webauthn: no inline script or style (CSP `default-src 'self'`), one static
//! stylesheet, every POST needs an exact `Origin` and the session's CSRF token (the same
//! keyed hash as `/account`, so the sign-out form works). Must not import store.

mod admin_actions;
mod admins;
mod audit;
mod clients;
mod customers;
mod delegations;
mod federation;
mod keys;
mod kit;
mod layout;
mod mappings;
mod networks;
mod privileges;
mod saml;
mod scim;
mod staff;

use crate::app::AppState;
use crate::core::privileges::Principal;
use crate::core::sessions::{ActingMsp, Session};
use crate::core::Core;
use crate::error::Error;
use crate::http::middleware::{CurrentTenant, RequestId};
use crate::tenancy::{Tenant, TenantKind};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/switch", get(switch))
        .route(
            "/portal/customers",
            get(customers::overview).post(customers::create),
        )
        .route(
            "/portal/customers/{name}/delete",
            get(customers::confirm_delete).post(customers::delete),
        )
        .route("/portal/admins", get(admins::list).post(admins::create))
        .route(
            "/portal/admins/edit",
            get(admin_actions::edit_page).post(admin_actions::edit),
        )
        .route("/portal/admins/remove", post(admin_actions::remove))
        .route("/portal/admins/unlock", post(admin_actions::unlock))
        .route("/portal/admins/resend", post(admin_actions::resend))
        .route(
            "/portal/delegations",
            get(delegations::list).post(delegations::create),
        )
        .route(
            "/portal/delegations/approve",
            axum::routing::post(delegations::approve),
        )
        .route(
            "/portal/delegations/revoke",
            axum::routing::post(delegations::revoke),
        )
        .route(
            "/portal/delegations/settings",
            axum::routing::post(delegations::settings),
        )
        .route("/portal/privileges", get(privileges::page))
        .route(
            "/portal/networks",
            get(networks::list).post(networks::create),
        )
        .route("/portal/networks/update", post(networks::update))
        .route("/portal/networks/delete", post(networks::delete))
        .route("/portal/networks/ports", post(networks::add_port))
        .route("/portal/networks/ports/delete", post(networks::delete_port))
        .route(
            "/portal/role-mappings",
            get(mappings::list).post(mappings::create),
        )
        .route("/portal/role-mappings/delete", post(mappings::delete))
        .route("/portal/scim-tokens", get(scim::list).post(scim::create))
        .route("/portal/scim-tokens/revoke", post(scim::revoke))
        .route("/portal/clients", get(clients::list).post(clients::create))
        .route("/portal/clients/delete", post(clients::delete))
        .route("/portal/saml-sps", get(saml::list).post(saml::create))
        .route("/portal/saml-sps/delete", post(saml::delete))
        .route(
            "/portal/federation",
            get(federation::list).post(federation::create),
        )
        .route("/portal/federation/delete", post(federation::delete))
        .route(
            "/portal/federation/check-domain",
            post(federation::check_domain),
        )
        .route("/portal/keys", get(keys::list).post(keys::rotate))
        .route("/portal/audit", get(audit::list))
        .route("/portal/staff", get(staff::list).post(staff::create))
        .route("/portal/staff/update", post(staff::update))
        .route("/static/portal.css", get(layout::stylesheet))
}

/// A signed-in caller on this host.
pub(crate) struct Ctx {
    pub host: Arc<Tenant>,
    pub session: Session,
    pub principal: Principal,
    pub acting: Option<ActingMsp>,
    pub csrf: String,
    pub request_id: Option<String>,
    /// Every tenant host as a CSP source (`http://*.localhost:8080`): the organization
    /// switcher's GET form redirects to a customer's `/switch/start`, and Chromium holds
    /// the redirects after a form submission to `form-action`. Those hosts check Origin and
    /// CSRF on their own POSTs, so this opens nothing across tenants.
    pub any_tenant: String,
}

impl Ctx {
    /// On the caller's own MSP host (not switched in): the customer overview applies.
    pub fn on_own_msp(&self) -> bool {
        self.host.kind == TenantKind::Msp && self.principal.home.id == self.host.id
    }
}

/// A page that could not be served: a status and a sentence, rendered in the layout when
/// the caller is known.
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Refusal::new(StatusCode::NOT_FOUND, "not found")
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        let (status, message) = describe(&e);
        Refusal { status, message }
    }
}

/// Status and the sentence a page shows for a core error; internal detail is logged only.
pub(crate) fn describe(e: &Error) -> (StatusCode, String) {
    match e {
        Error::NotFound => (StatusCode::NOT_FOUND, "not found".into()),
        Error::Conflict { message, .. } => (StatusCode::CONFLICT, message.clone()),
        Error::Forbidden { message, .. } => (StatusCode::FORBIDDEN, message.clone()),
        Error::Invalid { message, .. } => (StatusCode::BAD_REQUEST, message.clone()),
        Error::Unauthenticated { message, .. } => (StatusCode::UNAUTHORIZED, message.clone()),
        Error::Stale => (StatusCode::CONFLICT, "try again".into()),
        Error::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong on our side".into(),
            )
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        layout::bare_page(self.status, "Refused", &self.message)
    }
}

/// Where a request without a session goes. `/login` resumes nothing for the portal yet;
/// the user comes back through the navigation.
const LOGIN: &str = "/login";

/// The signed-in caller, or the answer to give instead: a redirect to `/login` without a
/// session, a refusal when the session's user is no longer an active user.
pub(crate) async fn caller(
    core: &Core,
    host: &Arc<Tenant>,
    headers: &HeaderMap,
    rid: Option<&RequestId>,
) -> Result<Ctx, Response> {
    let session = match crate::http::extract::cookie(headers, core.session_cookie_name()) {
        Some(secret) => core
            .session_from_cookie(host, &secret)
            .await
            .map_err(|e| Refusal::from(e).into_response())?,
        None => None,
    };
    let Some(session) = session else {
        return Err(Redirect::to(LOGIN).into_response());
    };
    let Some(principal) = core
        .principal_from_session(host, &session)
        .await
        .map_err(|e| Refusal::from(e).into_response())?
    else {
        return Err(Redirect::to(LOGIN).into_response());
    };
    let acting = core
        .acting_msp(host, &session)
        .await
        .map_err(|e| Refusal::from(e).into_response())?;
    let csrf = core.keys.hash_credential("csrf", &session.id);
    Ok(Ctx {
        host: host.clone(),
        session,
        principal,
        acting,
        csrf,
        request_id: rid.map(|r| r.as_str().to_string()),
        any_tenant: core.issuer("*"),
    })
}

/// A POST's checks, in the order of `/account`: exact Origin, a session, then its CSRF
/// token. Each refusal is audited like the account page's.
pub(crate) async fn post_caller(
    core: &Core,
    host: &Arc<Tenant>,
    headers: &HeaderMap,
    rid: &RequestId,
    form: &HashMap<String, String>,
) -> Result<Ctx, Response> {
    let expected = core.issuer(&host.name);
    let given = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        let _ = core
            .audit_refusal(
                host,
                "request.origin_mismatch",
                None,
                "origin",
                Some(rid.as_str()),
            )
            .await;
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "this request did not come from this organization's pages",
        )
        .into_response());
    }
    let ctx = caller(core, host, headers, Some(rid)).await?;
    let sent = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !bool::from(sent.as_bytes().ct_eq(ctx.csrf.as_bytes())) {
        let _ = core
            .audit_refusal(
                host,
                "request.csrf",
                Some(&ctx.session.user_id),
                "csrf",
                Some(rid.as_str()),
            )
            .await;
        return Err(
            Refusal::new(StatusCode::FORBIDDEN, "this form expired; reload the page")
                .into_response(),
        );
    }
    Ok(ctx)
}

/// A url-encoded form or query string as a map (the last value of a repeated key wins).
pub(crate) fn form(bytes: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

pub(crate) fn query(q: Option<String>) -> HashMap<String, String> {
    form(q.unwrap_or_default().as_bytes())
}

/// A form field, trimmed; empty is absent.
pub(crate) fn field<'a>(f: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    f.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// `/portal`: the overview on one's own MSP host, the administrators page elsewhere.
async fn home(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
) -> Response {
    match caller(&s.core, &t, &headers, None).await {
        Ok(ctx) if ctx.on_own_msp() => Redirect::to("/portal/customers").into_response(),
        Ok(_) => Redirect::to("/portal/admins").into_response(),
        Err(resp) => resp,
    }
}

/// `/portal/switch?to=NAME`: the organization switcher's target. This host stays here; a
/// customer reached from the MSP host goes through `/switch/start` on the customer's host
/// (the token exchange gives it a session with `act`); from a customer an MSP user goes
/// back to the MSP's portal. Anything else is "not found".
async fn switch(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let ctx = match caller(&s.core, &t, &headers, None).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let q = query(q);
    let find = field(&q, "find").map(str::trim).filter(|f| !f.is_empty());
    let Some(to) = find.or(field(&q, "to")) else {
        return Redirect::to("/portal").into_response();
    };
    if to == t.name {
        return Redirect::to("/portal").into_response();
    }
    let orgs = match layout::organizations(&s.core, &ctx).await {
        Ok(orgs) => orgs,
        Err(e) => return Refusal::from(e).into_response(),
    };
    if let Some(o) = orgs.iter().find(|o| o.name == to) {
        return Redirect::to(&o.href).into_response();
    }
    let Some(find) = find else {
        return Refusal::not_found().into_response();
    };
    // Part of a name or display name, any case: one match switches, several ask for more.
    let needle = find.to_lowercase();
    let found: Vec<&layout::Org> = orgs
        .iter()
        .filter(|o| {
            o.name.to_lowercase().contains(&needle)
                || o.display_name.to_lowercase().contains(&needle)
        })
        .collect();
    match found.as_slice() {
        [o] if o.name == t.name => Redirect::to("/portal").into_response(),
        [o] => Redirect::to(&o.href).into_response(),
        [] => Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no organization you can reach matches \"{find}\""),
        )
        .into_response(),
        several => Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{} organizations match \"{find}\" ({}); type more of the name",
                several.len(),
                several
                    .iter()
                    .map(|o| o.display_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into_response(),
    }
}
