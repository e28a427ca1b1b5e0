//! `/portal/role-mappings[?org=]`: role mappings (product.md "Directory and federation"):
//! a directory group (SCIM group id or display name) or a federation claim value maps to a
//! bundle (org access, the helpdesk role, network and tag grants). Listed, created and
//! deleted through `api_list_mappings`, `api_create_mapping` and `api_delete_mapping`,
//! the functions behind `/api/v1/orgs/{org}/role-mappings`, so rules 1, 2 and 5 are core's.

use super::admins::{grants_of, network_grants, select};
use super::kit::{
    self, button, error_at, get_call, hidden, lines, org_chooser, orgs_of, table, PortalPost,
};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::authz::OrgAccess;
use crate::core::manage::OrgCall;
use crate::core::mappings::{BundleInput, MappingChange, MappingResource, Selector};
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

const PATH: &str = "/portal/role-mappings";

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
        Some("created") => Some("Role mapping created."),
        Some("deleted") => Some("Role mapping deleted."),
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

fn selector_text(s: &Selector) -> String {
    match (s.kind.as_str(), &s.claim) {
        ("claim", Some(c)) => format!("claim {c} = {}", s.value),
        ("group_id", _) => format!("group id {}", s.value),
        _ => format!("group {}", s.value),
    }
}

fn bundle_text(m: &MappingResource) -> String {
    let mut parts = vec![format!(
        "org access {}",
        m.bundle.org_access.unwrap_or(OrgAccess::None).as_str()
    )];
    if !m.bundle.org_roles.is_empty() {
        parts.push(format!("roles {}", m.bundle.org_roles.join(", ")));
    }
    parts.extend(m.bundle.grants.iter().map(ToString::to_string));
    parts.join("; ")
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
    let listing = match core.api_list_mappings(call, None).await {
        Ok(items) => {
            let mut rows = String::new();
            for m in &items {
                let remove = if full {
                    button(
                        ctx,
                        call,
                        &format!("{PATH}/delete"),
                        &[("id", &m.id)],
                        "Delete",
                        &format!("Delete role mapping {}", m.name),
                        true,
                    )
                } else {
                    String::new()
                };
                rows.push_str(&format!(
                    "<tr><th scope=\"row\">{name}</th><td>{sel}</td><td>{bundle}</td><td>{remove}</td></tr>",
                    name = esc(&m.name),
                    sel = esc(&m.selectors.iter().map(selector_text).collect::<Vec<_>>().join("; ")),
                    bundle = esc(&bundle_text(m)),
                ));
            }
            table(
                &format!(
                    "Role mappings of {} ({})",
                    call.org.display_name,
                    items.len()
                ),
                &["Name", "Selected by", "Bundle", "Actions"],
                &rows,
                "No role mappings yet.",
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    };
    let create = if full {
        let networks = core.api_list_networks(call, None).await.unwrap_or_default();
        let v = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
        format!(
            "<section aria-labelledby=\"new-map-h\"><h2 id=\"new-map-h\">Add a role mapping</h2>{err}\
             <form method=\"post\" action=\"{PATH}\">{hidden}<div class=\"stack\">\
             <p><label for=\"map-name\">Name (lower-case letters, digits, '_' or '-')</label><input id=\"map-name\" name=\"name\" type=\"text\" required maxlength=\"64\" value=\"{name}\"></p>\
             <p><label for=\"map-selectors\">Selected by, one per line: <code>group=NAME</code>, <code>group_id=ID</code> or <code>claim:CLAIM=VALUE</code></label>\
             <textarea id=\"map-selectors\" name=\"selectors\" rows=\"3\">{selectors}</textarea></p>\
             {access}<p><label for=\"map-helpdesk\"><input id=\"map-helpdesk\" name=\"helpdesk\" type=\"checkbox\" value=\"1\"> Org role helpdesk</label></p></div>\
             <fieldset><legend>Network grants</legend><div class=\"stack\">{grants}</div>\
             <p><label for=\"map-tags\">Tag grants, one per line as <code>TAG=ACCESS</code></label>\
             <textarea id=\"map-tags\" name=\"tag_grants\" rows=\"3\">{tag_grants}</textarea></p></fieldset>\
             <p><button type=\"submit\">Add role mapping</button></p></form></section>",
            err = error_at(error, "create"),
            hidden = hidden(ctx, call),
            name = v("name"),
            selectors = v("selectors"),
            tag_grants = v("tag_grants"),
            access = select(
                "map-access",
                "org_access",
                "Org access",
                &[("none", "None"), ("read-only", "Read-only"), ("full", "Full")],
                typed.get("org_access").map_or("none", String::as_str),
            ),
            grants = network_grants(&networks, typed, "map-grant", true),
        )
    } else {
        error_at(error, "create")
    };
    let body = format!(
        "<h1>Role mappings of {org}</h1>{chooser}{news}\
         <p class=\"hint\">Users get the union of the bundles their directory groups or sign-in claims select, at their next token.</p>\
         {row_error}{listing}{create}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
        row_error = error_at(error, "row"),
    );
    layout::page(ctx, &orgs, status, Nav::Mappings, "Role mappings", &body)
}

/// `group=NAME`, `group_id=ID`, `claim:CLAIM=VALUE`, one per line.
fn selectors_of(f: &HashMap<String, String>) -> Result<Vec<Selector>, Error> {
    let mut out = Vec::new();
    for line in lines(f.get("selectors")) {
        let bad = || {
            Error::invalid(
                "invalid_selector",
                format!(
                    "'{line}' is not a selector (group=NAME, group_id=ID or claim:CLAIM=VALUE)"
                ),
            )
        };
        let (key, value) = line.split_once('=').ok_or_else(bad)?;
        let (kind, claim) = match key.trim() {
            "group" | "group_name" => ("group_name", None),
            "group_id" => ("group_id", None),
            k => match k.strip_prefix("claim:") {
                Some(c) => ("claim", Some(c.trim().to_string())),
                None => return Err(bad()),
            },
        };
        out.push(Selector {
            kind: kind.to_string(),
            claim,
            value: value.trim().to_string(),
        });
    }
    Ok(out)
}

/// POST `/portal/role-mappings`: `api_create_mapping`.
pub async fn create(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = async {
        let org_access = match field(&f, "org_access") {
            None | Some("none") => None,
            Some(a) => Some(OrgAccess::parse(a).ok_or_else(|| {
                Error::invalid("invalid_org_access", format!("'{a}' is not an org access"))
            })?),
        };
        let change = MappingChange {
            name: Some(field(&f, "name").unwrap_or_default().to_string()),
            bundle: Some(BundleInput {
                org_access,
                org_roles: if field(&f, "helpdesk").is_some() {
                    vec!["helpdesk".into()]
                } else {
                    Vec::new()
                },
                grants: grants_of(&f)?,
            }),
            selectors: Some(selectors_of(&f)?),
            msp_role: None,
            msp_scope: None,
        };
        s.core.api_create_mapping(&call, change).await.map(|_| ())
    }
    .await;
    finish(&s, &ctx, &call, result, "created", "create", f).await
}

/// POST `/portal/role-mappings/delete`: `api_delete_mapping`.
pub async fn delete(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    let result = s.core.api_delete_mapping(&call, id, |_| Ok(())).await;
    finish(&s, &ctx, &call, result, "deleted", "row", HashMap::new()).await
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
