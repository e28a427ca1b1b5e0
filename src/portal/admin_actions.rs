//! The administrators page's row actions (issue 8 item 3): change an admin's org access
//! and grants (`/portal/admins/edit`), remove, unlock, resend the enrolment link. Each goes
//! through the function behind the admin API's route (`api_update_admin`,
//! `api_delete_admin`, `api_unlock_admin`, `api_resend_enrolment`), so rules 1 to 8 are
//! core's and their refusals (e.g. 409 `last_full_admin`) are shown in place.

use super::admins::{grants_of, may_add, network_grants, render, select};
use super::kit::{back, button, error_at, get_call, hidden, lines, orgs_of, PortalPost};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::authz::{Grant, OrgAccess};
use crate::core::manage::{AdminChange, AdminResource, OrgCall, UpdateOutcome};
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

const LIST: &str = "/portal/admins";
const EDIT: &str = "/portal/admins/edit";

/// The news a finished action leaves on the list.
pub(super) fn news_of(q: &HashMap<String, String>) -> Option<&'static str> {
    match field(q, "done")? {
        "changed" => Some("Administrator changed."),
        "removed" => Some("Administrator removed."),
        "unlocked" => Some("Administrator unlocked."),
        "resent" => {
            Some("A new enrolment link was sent by e-mail; the previous one no longer works.")
        }
        _ => None,
    }
}

/// Local admins (`adm_` ids, api.md) have own-account privileges to change; MSP staff,
/// delegates and mapped users are managed where their privileges come from.
fn is_local(a: &AdminResource) -> bool {
    a.id.starts_with("adm_")
}

/// The actions cell of a row, for a caller who manages some admins; core decides.
pub(super) fn row_actions(ctx: &Ctx, call: &OrgCall, a: &AdminResource) -> String {
    if !is_local(a) {
        return "<span class=\"hint\">managed at its source</span>".into();
    }
    let mut link = url::form_urlencoded::Serializer::new(String::new());
    link.append_pair("org", &call.org.name);
    link.append_pair("id", &a.id);
    let mut out = format!(
        "<a class=\"inline\" href=\"{EDIT}?{}\" aria-label=\"Change {}\">Change</a>",
        esc(&link.finish()),
        esc(&a.email)
    );
    let id = [("id", a.id.as_str())];
    if a.status == "locked" {
        out.push_str(&button(
            ctx,
            call,
            &format!("{LIST}/unlock"),
            &id,
            "Unlock",
            &format!("Unlock {}", a.email),
            false,
        ));
    }
    if a.status == "pending" && call.is_org_full() {
        out.push_str(&button(
            ctx,
            call,
            &format!("{LIST}/resend"),
            &id,
            "Resend enrolment",
            &format!("Resend enrolment to {}", a.email),
            false,
        ));
    }
    out.push_str(&button(
        ctx,
        call,
        &format!("{LIST}/remove"),
        &id,
        "Remove",
        &format!("Remove {}", a.email),
        true,
    ));
    out
}

/// GET `/portal/admins/edit?org=&id=`: the change form, filled with the admin's own
/// org access and grants.
pub async fn edit_page(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (ctx, q, call) = match get_call(&s, &t, &headers, raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = field(&q, "id").unwrap_or_default();
    render_edit(&s.core, &ctx, &call, id, StatusCode::OK, None, None).await
}

/// The admin's own grants as the form's fields: one select per network (the first grant
/// there), tag grants as lines, everything else (a second grant on a network, a network
/// the caller does not see) as full grant lines.
fn typed_of(a: &AdminResource, visible: &[String]) -> HashMap<String, String> {
    let mut typed = HashMap::new();
    typed.insert(
        "org_access".to_string(),
        a.org_access.unwrap_or(OrgAccess::None).as_str().to_string(),
    );
    let (mut tags, mut other) = (Vec::new(), Vec::new());
    for g in &a.grants {
        if let Some(tag) = g.target.strip_prefix("tag:") {
            tags.push(format!("{tag}={}", g.access));
            continue;
        }
        let key = format!("grant.{}", g.target.trim_start_matches("network:"));
        let net = g.target.strip_prefix("network:").unwrap_or_default();
        if visible.iter().any(|v| v == net) && !typed.contains_key(&key) {
            typed.insert(key, g.access.clone());
        } else {
            other.push(format!("{}={}", g.target, g.access));
        }
    }
    typed.insert("tag_grants".into(), tags.join("\n"));
    typed.insert("other_grants".into(), other.join("\n"));
    typed
}

async fn render_edit(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    id: &str,
    status: StatusCode,
    typed: Option<&HashMap<String, String>>,
    error: Option<&str>,
) -> Response {
    let found = async {
        let mut conn = core.store.conn().await?;
        core.find_admin(&mut conn, call, id).await
    }
    .await;
    let res = match found {
        Ok((_, res, _)) => res,
        Err(e) => return super::Refusal::from(e).into_response(),
    };
    let orgs = orgs_of(core, ctx).await;
    let networks = core.api_list_networks(call, None).await.unwrap_or_default();
    let visible: Vec<String> = networks.iter().map(|n| n.id.clone()).collect();
    let current = typed_of(&res, &visible);
    let typed = typed.unwrap_or(&current);
    let v = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
    let form = if !is_local(&res) {
        notice(true, "this admin holds privileges through the MSP or a directory role; change those instead (MSP staff, delegations, role mappings)")
    } else if !may_add(call) {
        notice(true, "you may not change administrators here")
    } else {
        format!(
            "<form method=\"post\" action=\"{EDIT}\">{hidden}<input type=\"hidden\" name=\"id\" value=\"{id}\">\
             <div class=\"stack\">{access}</div>\
             <fieldset><legend>Network grants</legend><div class=\"stack\">{grants}</div>\
             <p><label for=\"edit-tags\">Tag grants, one per line as <code>TAG=ACCESS</code></label>\
             <textarea id=\"edit-tags\" name=\"tag_grants\" rows=\"3\">{tags}</textarea></p>\
             <p><label for=\"edit-other\">Other grants, one per line as <code>network:ID=ACCESS</code></label>\
             <textarea id=\"edit-other\" name=\"other_grants\" rows=\"3\">{other}</textarea></p></fieldset>\
             <p class=\"hint\">With no org access and no grant left, the admin's membership is removed.</p>\
             <p><button type=\"submit\">Save changes</button> <a href=\"{LIST}?org={org}\">Cancel</a></p></form>",
            hidden = hidden(ctx, call),
            id = esc(&res.id),
            access = select(
                "edit-access",
                "org_access",
                "Org access",
                &[("none", "None (network grants only)"), ("read-only", "Read-only"), ("full", "Full")],
                typed.get("org_access").map_or("none", String::as_str),
            ),
            grants = network_grants(&networks, typed, "edit-grant", true),
            tags = v("tag_grants"),
            other = v("other_grants"),
            org = esc(&call.org.name),
        )
    };
    let body = format!(
        "<h1>Change {email}</h1><p>Administrator of {org}; status {status}; effective org access {eff}.</p>{err}{form}",
        err = error_at(error.map(|e| ("edit", e)), "edit"),
        email = esc(&res.email),
        org = esc(&call.org.display_name),
        status = esc(&res.status),
        eff = esc(res.effective.org_access.as_str()),
    );
    layout::page(
        ctx,
        &orgs,
        status,
        Nav::Admins,
        "Change administrator",
        &body,
    )
}

/// POST `/portal/admins/edit`: `api_update_admin` with the whole set of own grants.
pub async fn edit(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default().to_string();
    let result = async {
        let access = field(&f, "org_access").unwrap_or("none");
        let org_access = OrgAccess::parse(access).ok_or_else(|| {
            Error::invalid(
                "invalid_org_access",
                format!("'{access}' is not an org access"),
            )
        })?;
        let mut grants = grants_of(&f)?;
        for line in lines(f.get("other_grants")) {
            grants.push(Grant::parse(&line).ok_or_else(|| {
                Error::invalid(
                    "invalid_grant",
                    format!("'{line}' is not a grant (network:ID=ACCESS)"),
                )
            })?);
        }
        let change = AdminChange {
            org_access: Some(org_access),
            grants: Some(grants),
        };
        s.core.api_update_admin(&call, &id, change).await
    }
    .await;
    match result {
        Ok(UpdateOutcome::Updated(_)) => back(LIST, &call, &[("done", "changed")]),
        Ok(UpdateOutcome::Removed { .. }) => back(LIST, &call, &[("done", "removed")]),
        Err(e) => {
            let (status, message) = describe(&e);
            let mut typed = f;
            typed.remove("csrf");
            render_edit(
                &s.core,
                &ctx,
                &call,
                &id,
                status,
                Some(&typed),
                Some(&message),
            )
            .await
        }
    }
}

/// After a row action: the list with its news, or with core's refusal above the table.
async fn finish(
    s: &AppState,
    ctx: &Ctx,
    call: &OrgCall,
    result: Result<(), Error>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => back(LIST, call, &[("done", done)]),
        Err(e) => {
            let (status, message) = describe(&e);
            let mut q = HashMap::new();
            q.insert("org".to_string(), call.org.name.clone());
            render(
                &s.core,
                ctx,
                call,
                &q,
                status,
                None,
                &HashMap::new(),
                None,
                Some(&message),
            )
            .await
        }
    }
}

/// POST `/portal/admins/remove`: `api_delete_admin` (rule 4 keeps the last org-full admin).
pub async fn remove(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = s
        .core
        .api_delete_admin(&call, field(&f, "id").unwrap_or_default())
        .await;
    finish(&s, &ctx, &call, result, "removed").await
}

/// POST `/portal/admins/unlock`: `api_unlock_admin` (rule 6).
pub async fn unlock(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = s
        .core
        .api_unlock_admin(&call, field(&f, "id").unwrap_or_default())
        .await
        .map(|_| ());
    finish(&s, &ctx, &call, result, "unlocked").await
}

/// POST `/portal/admins/resend`: `api_resend_enrolment` (rule 8); the link goes by
/// e-mail only, never onto the page.
pub async fn resend(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = s
        .core
        .api_resend_enrolment(&call, field(&f, "id").unwrap_or_default())
        .await
        .map(|_| ());
    finish(&s, &ctx, &call, result, "resent").await
}
