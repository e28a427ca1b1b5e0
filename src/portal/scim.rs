//! `/portal/scim-tokens[?org=]`: the organization's SCIM bearer tokens (product.md
//! "Directory and federation"): listed, created (the token is shown once, in the answer
//! to the POST, with the SCIM base URL) and revoked through the same core calls as
//! `/api/v1/orgs/{org}/scim-tokens` (`api_list_scim_tokens`, `OrgCall::require_org_full`, `create_scim_token`,
//! `revoke_scim_token`), each audited with the caller as actor.

use super::kit::{
    back, button, error_at, get_call, hidden, org_chooser, orgs_of, table, PortalPost,
};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::core::manage::OrgCall;
use crate::core::Core;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

const PATH: &str = "/portal/scim-tokens";

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
    let news = (field(&q, "done") == Some("revoked")).then_some("Token revoked.");
    render(
        &s.core,
        &ctx,
        &call,
        StatusCode::OK,
        news.map(|n| notice(false, n)),
        None,
    )
    .await
}

async fn render(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    status: StatusCode,
    news: Option<String>,
    error: Option<(&str, &str)>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let full = call.is_org_full();
    let listing = match core.api_list_scim_tokens(call).await {
        Ok(items) => {
            let mut rows = String::new();
            for tok in &items {
                let revoke = if full {
                    button(
                        ctx,
                        call,
                        &format!("{PATH}/revoke"),
                        &[("id", &tok.id)],
                        "Revoke",
                        &format!("Revoke token {}", tok.name),
                        true,
                    )
                } else {
                    String::new()
                };
                rows.push_str(&format!(
                        "<tr><th scope=\"row\">{name}</th><td><code>{id}</code></td><td>{created}</td><td>{used}</td><td>{revoke}</td></tr>",
                        name = esc(&tok.name),
                        id = esc(&tok.id),
                        created = esc(&tok.created_at),
                        used = esc(tok.last_used_at.as_deref().unwrap_or("never")),
                    ));
            }
            table(
                &format!("SCIM tokens of {} ({})", call.org.display_name, items.len()),
                &["Name", "Id", "Created", "Last used", "Actions"],
                &rows,
                "No SCIM tokens.",
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    };
    let create = if full {
        format!(
            "<section aria-labelledby=\"new-tok-h\"><h2 id=\"new-tok-h\">Create a token</h2>{err}\
             <form method=\"post\" action=\"{PATH}\">{hidden}<div class=\"stack\">\
             <p><label for=\"tok-name\">Name (which directory uses it)</label><input id=\"tok-name\" name=\"name\" type=\"text\" required maxlength=\"100\" value=\"directory\"></p>\
             <p><button type=\"submit\">Create token</button></p></div></form></section>",
            err = error_at(error, "create"),
            hidden = hidden(ctx, call),
        )
    } else {
        error_at(error, "create")
    };
    let body = format!(
        "<h1>SCIM tokens of {org}</h1>{chooser}{news}{row_error}{listing}{create}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.unwrap_or_default(),
        row_error = error_at(error, "row"),
    );
    layout::page(ctx, &orgs, status, Nav::Scim, "SCIM tokens", &body)
}

/// POST `/portal/scim-tokens`: org full, then `create_scim_token`; the answer shows the
/// token once (never stored in clear, never shown again).
pub async fn create(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = async {
        call.require_org_full("create SCIM tokens")?;
        s.core
            .create_scim_token(
                &call.org,
                field(&f, "name").unwrap_or_default(),
                &call.actor(),
                call.request_id.as_deref(),
            )
            .await
    }
    .await;
    match result {
        Ok(view) => {
            let shown = format!(
                "<section aria-labelledby=\"secret-h\" role=\"status\"><h2 id=\"secret-h\">Token {name} created</h2>\
                 <p>Copy the token now: it is shown only this once.</p>\
                 <p id=\"new-token\" class=\"secret\">{token}</p>\
                 <p>SCIM base URL: <code>{base}</code></p></section>",
                name = esc(&view.name),
                token = esc(view.token.as_deref().unwrap_or_default()),
                base = esc(&s.core.scim_base(&call.org)),
            );
            render(&s.core, &ctx, &call, StatusCode::CREATED, Some(shown), None).await
        }
        Err(e) => {
            let (status, message) = describe(&e);
            render(
                &s.core,
                &ctx,
                &call,
                status,
                None,
                Some(("create", &message)),
            )
            .await
        }
    }
}

/// POST `/portal/scim-tokens/revoke`: org full, then `revoke_scim_token`.
pub async fn revoke(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    let result = async {
        call.require_org_full("revoke SCIM tokens")?;
        s.core
            .revoke_scim_token(&call.org, id, &call.actor(), call.request_id.as_deref())
            .await
    }
    .await;
    match result {
        Ok(()) => back(PATH, &call, &[("done", "revoked")]),
        Err(e) => {
            let (status, message) = describe(&e);
            render(&s.core, &ctx, &call, status, None, Some(("row", &message))).await
        }
    }
}
