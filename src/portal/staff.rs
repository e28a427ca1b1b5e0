//! `/portal/staff` on one's own MSP host (issue 8 item 3, "the MSP variant manages staff
//! roles and scopes"; product.md "MSP model"): the MSP's staff with their role
//! (`super-user`, `network-admin`, `observer`, `installer`, `helpdesk`, or none for a
//! technician) and scope (every customer or listed ones); add staff, change a role or a
//! scope. Everything goes through the same core calls as `/api/v1/staff`
//! (`api_list_staff`, `api_create_staff`, `api_update_staff`): org read-only in the MSP
//! lists, only super-users change, and every refusal of core is shown next to its form.
//! Any other host, or an MSP user switched into a customer, gets "not found".

use super::kit::{error_at, orgs_of, PostForm};
use super::layout::{self, notice, Nav};
use super::{caller, describe, field, query, Ctx, Refusal};
use crate::app::AppState;
use crate::authz::MSP_ROLES;
use crate::core::staff::{StaffChange, StaffResource, StaffSpec, TECHNICIAN};
use crate::core::Core;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};
use std::collections::HashMap;

const PATH: &str = "/portal/staff";

/// The role choices: the MSP roles, then a technician (no role; reaches customers only
/// through delegations).
fn roles() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = MSP_ROLES.iter().map(|r| (*r, *r)).collect();
    out.push((TECHNICIAN, "technician (no role; delegations only)"));
    out
}

fn role_select(id: &str, chosen: &str) -> String {
    let mut options = String::new();
    for (value, text) in roles() {
        options.push_str(&format!(
            "<option value=\"{v}\"{sel}>{t}</option>",
            v = esc(value),
            t = esc(text),
            sel = if value == chosen { " selected" } else { "" },
        ));
    }
    format!("<select id=\"{id}\" name=\"role\">{options}</select>")
}

/// A scope as typed: empty is absent (core's default for the role), `all` every
/// customer, otherwise customer names separated by commas or spaces.
fn scope_of(text: Option<&str>) -> Option<Value> {
    let text = text?;
    if text.eq_ignore_ascii_case("all") {
        return Some(json!("all"));
    }
    let names: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    Some(json!(names))
}

/// A role as the form sends it: the technician is "no role" for core.
fn role_of(text: Option<&str>) -> Option<String> {
    text.filter(|r| *r != TECHNICIAN).map(str::to_string)
}

fn scope_text(scope: &Value) -> String {
    match scope {
        Value::String(s) => s.clone(),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The caller on their own MSP host, or "not found" (as the admin API's staff routes).
fn own_msp(ctx: &Ctx) -> Result<(), Refusal> {
    if ctx.on_own_msp() {
        Ok(())
    } else {
        Err(Refusal::not_found())
    }
}

pub async fn list(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match caller(&s.core, &t, &headers, None).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    if let Err(r) = own_msp(&ctx) {
        return r.into_response();
    }
    let q = query(raw);
    let news = match field(&q, "done") {
        Some("changed") => Some(notice(false, "Staff role saved.")),
        _ => None,
    };
    render(
        &s.core,
        &ctx,
        &q,
        StatusCode::OK,
        news,
        None,
        &HashMap::new(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    core: &Core,
    ctx: &Ctx,
    q: &HashMap<String, String>,
    status: StatusCode,
    news: Option<String>,
    error: Option<(&str, &str)>,
    typed: &HashMap<String, String>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let search = field(q, "q").unwrap_or_default();
    // Only super-users change staff (core refuses the others with `org_full_required`).
    let full = match core
        .org_call(&ctx.principal, &ctx.host.name, ctx.request_id.clone())
        .await
    {
        Ok(call) => call.is_org_full(),
        Err(_) => false,
    };
    let listing = match core
        .api_list_staff(&ctx.principal, Some(search).filter(|s| !s.is_empty()))
        .await
    {
        Ok(items) => table(ctx, &items, full),
        Err(e) => notice(true, &describe(&e).1),
    };
    let v = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
    let add = if full {
        format!(
            "<section aria-labelledby=\"add-staff-h\"><h2 id=\"add-staff-h\">Add staff</h2>{err}\
             <form method=\"post\" action=\"{PATH}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><div class=\"stack\">\
             <p><label for=\"new-staff-email\">E-mail</label>\
             <input id=\"new-staff-email\" name=\"email\" type=\"email\" required maxlength=\"254\" value=\"{email}\"></p>\
             <p><label for=\"new-staff-name\">Name (optional)</label>\
             <input id=\"new-staff-name\" name=\"name\" type=\"text\" maxlength=\"200\" value=\"{name}\"></p>\
             <p><label for=\"new-staff-role\">Role</label>{role}</p>\
             <p><label for=\"new-staff-scope\">Scope: <code>all</code> or customer names, comma-separated</label>\
             <input id=\"new-staff-scope\" name=\"scope\" type=\"text\" maxlength=\"2000\" value=\"{scope}\"></p>\
             <p><button type=\"submit\">Add staff</button></p></div></form></section>",
            err = error_at(error, "add-staff"),
            csrf = esc(&ctx.csrf),
            email = v("email"),
            name = v("name"),
            role = role_select(
                "new-staff-role",
                typed.get("role").map_or("helpdesk", String::as_str)
            ),
            scope = v("scope"),
        )
    } else {
        error_at(error, "add-staff")
    };
    let body = format!(
        "<h1>Staff of {org}</h1>\
         <p class=\"hint\">Roles reach customers by scope; a technician reaches customers only through delegations; a super-user's scope is always every customer.</p>\
         <form class=\"filters\" method=\"get\" action=\"{PATH}\" role=\"search\" aria-label=\"Search staff\">\
         <p><label for=\"staff-q\">Name or e-mail</label><input id=\"staff-q\" name=\"q\" type=\"search\" maxlength=\"100\" value=\"{search}\"></p>\
         <p><button type=\"submit\">Search</button></p></form>\
         {news}{row_error}{listing}{add}",
        org = esc(&ctx.host.display_name),
        search = esc(search),
        news = news.unwrap_or_default(),
        row_error = error_at(error, "staff-row"),
    );
    layout::page(ctx, &orgs, status, Nav::Staff, "Staff", &body)
}

fn table(ctx: &Ctx, items: &[StaffResource], full: bool) -> String {
    let mut rows = String::new();
    for (i, st) in items.iter().enumerate() {
        let role = st.role.as_deref().unwrap_or(TECHNICIAN);
        let scope = scope_text(&st.scope);
        let change = if full {
            format!(
                "<form class=\"inline\" method=\"post\" action=\"{PATH}/update\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <label for=\"role-{i}\">Role of {email}</label> {select} \
                 <label for=\"scope-{i}\">Scope of {email}</label> \
                 <input id=\"scope-{i}\" name=\"scope\" type=\"text\" maxlength=\"2000\" value=\"{scope}\"> \
                 <button type=\"submit\" aria-label=\"Save role of {email}\">Save</button></form>",
                csrf = esc(&ctx.csrf),
                id = esc(&st.id),
                email = esc(&st.email),
                select = role_select(&format!("role-{i}"), role),
                scope = esc(&scope),
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{email}</th><td>{name}</td><td>{role}</td><td>{scope_shown}</td><td>{change}</td></tr>",
            email = esc(&st.email),
            name = esc(st.name.as_deref().unwrap_or("")),
            role = esc(role),
            scope_shown = esc(match (role, scope.as_str()) {
                (TECHNICIAN, _) => "delegations only",
                (_, "all") => "all customers",
                (_, listed) => listed,
            }),
        ));
    }
    super::kit::table(
        &format!("Staff ({})", items.len()),
        &["E-mail", "Name", "Role", "Scope", "Change"],
        &rows,
        "No staff.",
    )
}

/// POST `/portal/staff`: `api_create_staff`; the new member gets the enrolment e-mail.
pub async fn create(State(s): State<AppState>, PostForm { ctx, form: f }: PostForm) -> Response {
    if let Err(r) = own_msp(&ctx) {
        return r.into_response();
    }
    let spec = StaffSpec {
        email: field(&f, "email").unwrap_or_default().to_string(),
        name: field(&f, "name").map(str::to_string),
        role: role_of(field(&f, "role")),
        scope: scope_of(field(&f, "scope")),
    };
    let none = HashMap::new();
    match s
        .core
        .api_create_staff(&ctx.principal, ctx.request_id.clone(), spec)
        .await
    {
        Ok((res, _, _)) => {
            let news = notice(
                false,
                &format!(
                    "Added {} as {}; an enrolment link was sent by e-mail.",
                    res.email,
                    res.role.as_deref().unwrap_or(TECHNICIAN)
                ),
            );
            render(
                &s.core,
                &ctx,
                &none,
                StatusCode::CREATED,
                Some(news),
                None,
                &none,
            )
            .await
        }
        Err(e) => {
            let (status, message) = describe(&e);
            render(
                &s.core,
                &ctx,
                &none,
                status,
                None,
                Some(("add-staff", &message)),
                &f,
            )
            .await
        }
    }
}

/// POST `/portal/staff/update`: `api_update_staff` with the row's role and scope.
pub async fn update(State(s): State<AppState>, PostForm { ctx, form: f }: PostForm) -> Response {
    if let Err(r) = own_msp(&ctx) {
        return r.into_response();
    }
    let role = role_of(field(&f, "role"));
    // A super-user's and a technician's scope is always every customer: what the row
    // shows ("all") is not sent back for them.
    let scope = match role.as_deref() {
        None | Some("super-user") => None,
        Some(_) => scope_of(field(&f, "scope")),
    };
    let change = StaffChange {
        role: Some(role),
        scope,
    };
    let id = field(&f, "id").unwrap_or_default();
    match s
        .core
        .api_update_staff(&ctx.principal, ctx.request_id.clone(), id, change)
        .await
    {
        Ok(_) => Redirect::to(&format!("{PATH}?done=changed")).into_response(),
        Err(e) => {
            let (status, message) = describe(&e);
            let none = HashMap::new();
            render(
                &s.core,
                &ctx,
                &none,
                status,
                None,
                Some(("staff-row", &message)),
                &none,
            )
            .await
        }
    }
}
