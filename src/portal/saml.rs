//! `/portal/saml-sps[?org=]`: the SAML service providers this organization's IdP serves:
//! listed, added from metadata XML pasted in a textarea, removed, through the same calls
//! as `/api/v1/orgs/{org}/saml-sps` (org full first, then the metadata parser, then
//! `api_register_saml_sp`; `api_list_saml_sps`, `api_delete_saml_sp`).

use super::kit::{
    self, button, error_at, get_call, hidden, org_chooser, orgs_of, table, PortalPost,
};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::core::manage::OrgCall;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

const PATH: &str = "/portal/saml-sps";

pub async fn list(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (ctx, q, call) = match get_call(&s, &t, &headers, raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let news = match field(&q, "done") {
        Some("added") => Some("Service provider added."),
        Some("removed") => Some("Service provider removed."),
        _ => None,
    };
    render(
        &s.core,
        &ctx,
        &call,
        StatusCode::OK,
        news,
        &HashMap::new(),
        None,
    )
    .await
}

async fn render(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    status: StatusCode,
    news: Option<&str>,
    typed: &HashMap<String, String>,
    error: Option<(&str, &str)>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let full = call.is_org_full();
    let listing = match core.api_list_saml_sps(call).await {
        Ok(items) => {
            let mut rows = String::new();
            for sp in &items {
                let remove = if full {
                    button(
                        ctx,
                        call,
                        &format!("{PATH}/delete"),
                        &[("id", &sp.id)],
                        "Remove",
                        &format!("Remove service provider {}", sp.entity_id),
                        true,
                    )
                } else {
                    String::new()
                };
                let acs: Vec<&str> = sp.acs.iter().map(|a| a.location.as_str()).collect();
                rows.push_str(&format!(
                    "<tr><th scope=\"row\">{entity}</th><td>{acs}</td><td>{signed}</td><td>{created}</td><td>{remove}</td></tr>",
                    entity = esc(&sp.entity_id),
                    acs = esc(&acs.join(" ")),
                    signed = if sp.want_requests_signed { "yes" } else { "no" },
                    created = esc(&sp.created_at),
                ));
            }
            table(
                &format!(
                    "SAML service providers of {} ({})",
                    call.org.display_name,
                    items.len()
                ),
                &[
                    "Entity id",
                    "Assertion consumer services",
                    "Signed requests",
                    "Added",
                    "Actions",
                ],
                &rows,
                "No service providers.",
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    };
    let create = if full {
        format!(
            "<section aria-labelledby=\"new-sp-h\"><h2 id=\"new-sp-h\">Add a service provider</h2>{err}\
             <form method=\"post\" action=\"{PATH}\">{hidden}\
             <p><label for=\"sp-metadata\">The service provider's metadata (an <code>EntityDescriptor</code>, XML)</label>\
             <textarea id=\"sp-metadata\" name=\"metadata\" rows=\"10\" required>{metadata}</textarea></p>\
             <p><button type=\"submit\">Add service provider</button></p></form>\
             <p class=\"hint\">Give the service provider this IdP's metadata: <code>{idp}</code></p></section>",
            err = error_at(error, "create"),
            hidden = hidden(ctx, call),
            metadata = esc(typed.get("metadata").map(String::as_str).unwrap_or_default()),
            idp = esc(&format!("{}/saml/metadata", core.issuer(&call.org.name))),
        )
    } else {
        error_at(error, "create")
    };
    let body = format!(
        "<h1>SAML service providers of {org}</h1>{chooser}{news}{row_error}{listing}{create}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
        row_error = error_at(error, "row"),
    );
    layout::page(
        ctx,
        &orgs,
        status,
        Nav::Saml,
        "SAML service providers",
        &body,
    )
}

async fn finish(
    s: &AppState,
    ctx: &Ctx,
    call: &OrgCall,
    result: Result<(), Error>,
    done: &str,
    at: &str,
    typed: HashMap<String, String>,
) -> Response {
    kit::finish(
        PATH,
        call,
        result,
        done,
        typed,
        |status, message, typed| async move {
            render(
                &s.core,
                ctx,
                call,
                status,
                None,
                &typed,
                Some((at, &message)),
            )
            .await
        },
    )
    .await
}

/// POST `/portal/saml-sps`: org full first (a caller who may not register learns nothing
/// from parsing), then the metadata, then `api_register_saml_sp`.
pub async fn create(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = async {
        call.require_org_full("register service providers")?;
        let xml = f.get("metadata").map(String::as_str).unwrap_or_default();
        let new = crate::saml::parse_sp_metadata(xml)
            .map_err(|m| Error::invalid("invalid_metadata", m))?;
        s.core.api_register_saml_sp(&call, new).await.map(|_| ())
    }
    .await;
    finish(&s, &ctx, &call, result, "added", "create", f).await
}

/// POST `/portal/saml-sps/delete`: `api_delete_saml_sp`.
pub async fn delete(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    let result = s.core.api_delete_saml_sp(&call, id).await;
    finish(&s, &ctx, &call, result, "removed", "row", HashMap::new()).await
}
