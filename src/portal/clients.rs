//! `/portal/clients[?org=]`: the organization's OIDC applications (OAuth clients):
//! listed, registered (a confidential client's secret is shown once, in the answer to the
//! POST) and deleted through `api_list_clients`, `api_create_client` and
//! `api_delete_client`, the functions behind `/api/v1/orgs/{org}/clients`. The API has
//! no secret rotation; to replace a secret, register a new client and delete the old one.

use super::admins::select;
use super::kit::{
    back, button, error_at, get_call, hidden, lines, org_chooser, orgs_of, table, PortalPost,
};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::core::clients::{AuthMethod, NewClient};
use crate::core::manage::OrgCall;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

const PATH: &str = "/portal/clients";

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
    let news =
        (field(&q, "done") == Some("deleted")).then(|| notice(false, "Application deleted."));
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
    news: Option<String>,
    typed: &HashMap<String, String>,
    error: Option<(&str, &str)>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let full = call.is_org_full();
    let listing = match core.api_list_clients(call, None).await {
        Ok(items) => {
            let mut rows = String::new();
            for c in &items {
                let remove = if full {
                    button(
                        ctx,
                        call,
                        &format!("{PATH}/delete"),
                        &[("id", &c.id)],
                        "Delete",
                        &format!("Delete application {}", c.name),
                        true,
                    )
                } else {
                    String::new()
                };
                rows.push_str(&format!(
                    "<tr><th scope=\"row\">{name}</th><td><code>{id}</code></td><td>{auth}</td>\
                     <td>{redirects}</td><td>{grants}</td><td>{remove}</td></tr>",
                    name = esc(&c.name),
                    id = esc(&c.id),
                    auth = esc(c.auth_method.as_str()),
                    redirects = esc(&c.redirect_uris.join(" ")),
                    grants = esc(&c.grant_types.join(", ")),
                ));
            }
            table(
                &format!(
                    "OIDC applications of {} ({})",
                    call.org.display_name,
                    items.len()
                ),
                &[
                    "Name",
                    "Client id",
                    "Authentication",
                    "Redirect URIs",
                    "Grants",
                    "Actions",
                ],
                &rows,
                "No applications registered.",
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    };
    let create = if full {
        let v = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
        format!(
            "<section aria-labelledby=\"new-cli-h\"><h2 id=\"new-cli-h\">Register an application</h2>{err}\
             <form method=\"post\" action=\"{PATH}\">{hidden}<div class=\"stack\">\
             <p><label for=\"cli-name\">Name</label><input id=\"cli-name\" name=\"name\" type=\"text\" required maxlength=\"200\" value=\"{name}\"></p>\
             {kind}\
             <p><label for=\"cli-redirects\">Redirect URIs, one per line</label><textarea id=\"cli-redirects\" name=\"redirect_uris\" rows=\"3\">{redirects}</textarea></p>\
             <p><label for=\"cli-cc\"><input id=\"cli-cc\" name=\"client_credentials\" type=\"checkbox\" value=\"1\"> Also allow the client credentials grant</label></p>\
             <p><button type=\"submit\">Register</button></p></div></form></section>",
            err = error_at(error, "create"),
            hidden = hidden(ctx, call),
            name = v("name"),
            redirects = v("redirect_uris"),
            kind = select(
                "cli-kind",
                "auth_method",
                "Type",
                &[
                    ("client_secret_basic", "Confidential (client secret, HTTP Basic)"),
                    ("client_secret_post", "Confidential (client secret in the form)"),
                    ("none", "Public (PKCE, no secret)"),
                ],
                typed.get("auth_method").map_or("client_secret_basic", String::as_str),
            ),
        )
    } else {
        error_at(error, "create")
    };
    let body = format!(
        "<h1>OIDC applications of {org}</h1>{chooser}{news}{row_error}{listing}{create}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.unwrap_or_default(),
        row_error = error_at(error, "row"),
    );
    layout::page(ctx, &orgs, status, Nav::Clients, "OIDC applications", &body)
}

/// POST `/portal/clients`: `api_create_client`; the answer shows the secret once.
pub async fn create(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = async {
        let method = field(&f, "auth_method").unwrap_or("client_secret_basic");
        let auth_method = AuthMethod::parse(method)
            .filter(|m| *m != AuthMethod::PrivateKeyJwt)
            .ok_or_else(|| {
                Error::invalid(
                    "invalid_auth_method",
                    format!("'{method}' is not a client type here"),
                )
            })?;
        let mut grant_types = Vec::new();
        if field(&f, "client_credentials").is_some() {
            grant_types = vec![
                "authorization_code".to_string(),
                "refresh_token".to_string(),
                "client_credentials".to_string(),
            ];
        }
        let new = NewClient {
            name: field(&f, "name").unwrap_or_default().to_string(),
            public: auth_method == AuthMethod::None,
            auth_method: Some(auth_method),
            redirect_uris: lines(f.get("redirect_uris")),
            post_logout_redirect_uris: Vec::new(),
            grant_types,
            scopes: Vec::new(),
            jwks: None,
            id_token_alg: None,
            require_pkce: None,
            admin_api: false,
            initiate_login_uri: None,
        };
        s.core.api_create_client(&call, new).await
    }
    .await;
    match result {
        Ok((client, secret)) => {
            let secret = match secret {
                Some(secret) => format!(
                    "<p>Copy the client secret now: it is shown only this once.</p>\
                     <p id=\"new-secret\" class=\"secret\">{}</p>",
                    esc(&secret)
                ),
                None => "<p>A public application has no secret.</p>".to_string(),
            };
            let shown = format!(
                "<section aria-labelledby=\"secret-h\" role=\"status\"><h2 id=\"secret-h\">Application {name} registered</h2>\
                 <p>Client id: <code id=\"new-client-id\">{id}</code></p>{secret}</section>",
                name = esc(&client.name),
                id = esc(&client.id),
            );
            render(
                &s.core,
                &ctx,
                &call,
                StatusCode::CREATED,
                Some(shown),
                &HashMap::new(),
                None,
            )
            .await
        }
        Err(e) => {
            let (status, message) = describe(&e);
            let mut typed = f;
            typed.remove("csrf");
            render(
                &s.core,
                &ctx,
                &call,
                status,
                None,
                &typed,
                Some(("create", &message)),
            )
            .await
        }
    }
}

/// POST `/portal/clients/delete`: `api_delete_client`.
pub async fn delete(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    match s.core.api_delete_client(&call, id).await {
        Ok(()) => back(PATH, &call, &[("done", "deleted")]),
        Err(e) => {
            let (status, message) = describe(&e);
            render(
                &s.core,
                &ctx,
                &call,
                status,
                None,
                &HashMap::new(),
                Some(("row", &message)),
            )
            .await
        }
    }
}
