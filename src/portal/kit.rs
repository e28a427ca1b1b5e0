//! What the organization pages of the portal share (administrators, delegations,
//! privileges, networks, role mappings, integrations, federation, keys, audit, admin
//! actions): the organization a request names and what the caller holds there
//! (`Core::org_call`, as the admin API resolves `{org}`), the GET preamble (session,
//! query, organization) and the POST preamble (Origin, session, CSRF) with its extractors
//! `PostForm` and `PortalPost`, the organization chooser of the MSP host, small forms, and
//! after a change the redirect or the form again with core's refusal. No privilege
//! decision is made here.

use super::layout::{self, Org};
use super::{caller, describe, field, form, post_caller, query, Ctx, Refusal};
use crate::app::AppState;
use crate::core::manage::OrgCall;
use crate::core::privileges::holds_nothing;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::{CurrentTenant, RequestId};
use crate::tenancy::Tenant;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// The organization `name` names (this host's tenant by default; on an MSP host also one
/// of its customers, `resolve_org`) and what the caller holds there; "not found" when
/// the caller holds nothing reachable, "forbidden" for a user who administers nothing.
pub(crate) async fn org_of(core: &Core, ctx: &Ctx, name: Option<&str>) -> Result<OrgCall, Refusal> {
    let org = core
        .resolve_org(&ctx.host, name.unwrap_or(&ctx.host.name))
        .await?;
    let call = core
        .org_call(&ctx.principal, &org.name, ctx.request_id.clone())
        .await?;
    if holds_nothing(&call.eff) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("you are not an administrator of {}", org.display_name),
        ));
    }
    Ok(call)
}

/// The switcher's organizations, or just this host when they cannot be listed.
pub(crate) async fn orgs_of(core: &Core, ctx: &Ctx) -> Vec<Org> {
    layout::organizations(core, ctx).await.unwrap_or_else(|_| {
        vec![Org {
            name: ctx.host.name.clone(),
            display_name: ctx.host.display_name.clone(),
            href: "/portal".into(),
            current: true,
        }]
    })
}

/// A POST's checks (`post_caller`), then the caller's call into the form's `org`.
pub(crate) async fn post_call(
    s: &AppState,
    t: &Arc<Tenant>,
    headers: &HeaderMap,
    rid: &RequestId,
    f: &HashMap<String, String>,
) -> Result<(Ctx, OrgCall), Response> {
    let ctx = post_caller(&s.core, t, headers, rid, f).await?;
    let call = org_of(&s.core, &ctx, field(f, "org"))
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((ctx, call))
}

/// A portal POST that passed `post_caller` (exact Origin, a session, its CSRF token),
/// with its url-encoded form. As a handler's last argument it stands for the tenant,
/// request id, headers and body; a refusal is the answer `post_caller` gives.
pub(crate) struct PostForm {
    pub ctx: Ctx,
    pub form: HashMap<String, String>,
}

/// A `PostForm` and the caller's call into the form's `org` (`post_call`): the opening of
/// every organization page's POST handler.
pub(crate) struct PortalPost {
    pub ctx: Ctx,
    pub call: OrgCall,
    pub form: HashMap<String, String>,
}

/// What a POST's checks need, extracted in the order the handlers used to name them:
/// tenant, request id, headers, then the body as a form.
async fn post_parts(
    req: Request,
    s: &AppState,
) -> Result<(Arc<Tenant>, RequestId, HeaderMap, HashMap<String, String>), Response> {
    let (mut parts, body) = req.into_parts();
    let CurrentTenant(t) = CurrentTenant::from_request_parts(&mut parts, s)
        .await
        .map_err(IntoResponse::into_response)?;
    let rid = RequestId::from_request_parts(&mut parts, s)
        .await
        .map_err(IntoResponse::into_response)?;
    let headers = parts.headers.clone();
    let body = Bytes::from_request(Request::from_parts(parts, body), s)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((t, rid, headers, form(&body)))
}

impl FromRequest<AppState> for PostForm {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (t, rid, headers, form) = post_parts(req, s).await?;
        let ctx = post_caller(&s.core, &t, &headers, &rid, &form).await?;
        Ok(PostForm { ctx, form })
    }
}

impl FromRequest<AppState> for PortalPost {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (t, rid, headers, form) = post_parts(req, s).await?;
        let (ctx, call) = post_call(s, &t, &headers, &rid, &form).await?;
        Ok(PortalPost { ctx, call, form })
    }
}

/// On one's own MSP host, a GET form choosing which organization `action` shows (the MSP
/// itself or a customer the caller reaches); elsewhere nothing.
pub(crate) fn org_chooser(ctx: &Ctx, orgs: &[Org], action: &str, call: &OrgCall) -> String {
    if !ctx.on_own_msp() || orgs.len() < 2 {
        return String::new();
    }
    let options: Vec<(&str, &str)> = orgs
        .iter()
        .map(|o| (o.name.as_str(), o.display_name.as_str()))
        .collect();
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{action}\" aria-label=\"Choose an organization\">\
         {sel}<p><button type=\"submit\">Show</button></p></form>",
        sel = super::admins::select("page-org", "org", "Organization", &options, &call.org.name),
    )
}

/// The hidden fields every POST form carries.
pub(crate) fn hidden(ctx: &Ctx, call: &OrgCall) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"org\" value=\"{}\">",
        esc(&ctx.csrf),
        esc(&call.org.name)
    )
}

/// A one-button POST form (a row action) with extra hidden `fields`; `label` names the
/// button for assistive tools when its text alone is ambiguous.
pub(crate) fn button(
    ctx: &Ctx,
    call: &OrgCall,
    action: &str,
    fields: &[(&str, &str)],
    text: &str,
    label: &str,
    danger: bool,
) -> String {
    let mut extra = String::new();
    for (k, v) in fields {
        extra.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            esc(k),
            esc(v)
        ));
    }
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{action}\">{hidden}{extra}\
         <button type=\"submit\" aria-label=\"{label}\"{class}>{text}</button></form>",
        hidden = hidden(ctx, call),
        label = esc(label),
        text = esc(text),
        class = if danger { " class=\"danger\"" } else { "" },
    )
}

/// An error for the form it belongs to (`here`), with the id its fields point at.
pub(crate) fn error_at(error: Option<(&str, &str)>, here: &str) -> String {
    match error {
        Some((at, e)) if at == here => format!(
            "<p id=\"{here}-error\" class=\"error\" role=\"alert\">error: {}</p>",
            esc(e)
        ),
        _ => String::new(),
    }
}

/// Back to `path` for the same organization after a change, with `done` as the news.
pub(crate) fn back(path: &str, call: &OrgCall, extra: &[(&str, &str)]) -> Response {
    let mut to = url::form_urlencoded::Serializer::new(String::new());
    to.append_pair("org", &call.org.name);
    for (k, v) in extra {
        to.append_pair(k, v);
    }
    Redirect::to(&format!("{path}?{}", to.finish())).into_response()
}

/// A table in its scrolling box; `rows` are `<tr>`s already escaped, `cols` the header
/// texts; an empty table says `empty`.
pub(crate) fn table(caption: &str, cols: &[&str], rows: &str, empty: &str) -> String {
    let head: String = cols
        .iter()
        .map(|c| format!("<th scope=\"col\">{}</th>", esc(c)))
        .collect();
    let body = if rows.is_empty() {
        format!(
            "<tr><td colspan=\"{}\">{}</td></tr>",
            cols.len(),
            esc(empty)
        )
    } else {
        rows.to_string()
    };
    format!(
        "<div class=\"table-wrap\" tabindex=\"0\"><table><caption>{}</caption><thead><tr>{head}</tr></thead>\
         <tbody>{body}</tbody></table></div>",
        esc(caption)
    )
}

/// Words separated by spaces or commas (tags, port tags).
pub(crate) fn words(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Non-empty trimmed lines.
pub(crate) fn lines(text: Option<&String>) -> Vec<String> {
    text.map(String::as_str)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A GET page's checks: the signed-in caller (`caller`), the query string, then the
/// caller's call into the query's `org`.
pub(crate) async fn get_call(
    s: &AppState,
    t: &Arc<Tenant>,
    headers: &HeaderMap,
    raw: Option<String>,
) -> Result<(Ctx, HashMap<String, String>, OrgCall), Response> {
    let ctx = caller(&s.core, t, headers, None).await?;
    let q = query(raw);
    let call = org_of(&s.core, &ctx, field(&q, "org"))
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((ctx, q, call))
}

/// After a change: back to `path` with `done` as the news; a refusal shows the page again
/// (`again`) with core's status and message and what was typed, less the CSRF token.
pub(crate) async fn finish<F, Fut>(
    path: &str,
    call: &OrgCall,
    result: Result<(), Error>,
    done: &str,
    mut typed: HashMap<String, String>,
    again: F,
) -> Response
where
    F: FnOnce(StatusCode, String, HashMap<String, String>) -> Fut,
    Fut: Future<Output = Response>,
{
    match result {
        Ok(()) => back(path, call, &[("done", done)]),
        Err(e) => {
            let (status, message) = describe(&e);
            typed.remove("csrf");
            again(status, message, typed).await
        }
    }
}
