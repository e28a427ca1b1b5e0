//! `/portal/delegations[?org=]`: a customer's delegations (product.md "MSP model",
//! privileges.md rules 9 to 11). On the MSP host, for the customer `?org=` names: the list,
//! "Delegate a technician" and a revoke button per active delegation. On the customer's
//! host: every MSP user with access and why (MSP role or delegation, from
//! `Core::list_org_admins`), approve, revoke, and the "require approval" setting; the
//! "Delegate" form only for the customer's own org-full admins (rule 10: such a delegation
//! counts as approved), never for MSP users switched in, whose POST is refused in place.
//! Every change goes through the functions behind the admin API (`api_create_delegation`,
//! `api_approve_delegation`, `api_revoke_delegation`, `api_update_settings`), so every rule
//! and audit entry applies; a refusal is shown next to the form that caused it.

use super::admins::{grants_of, network_grants, select};
use super::kit::{self, org_of, orgs_of, PortalPost};
use super::layout::{self, notice, Nav, Org};
use super::{caller, describe, field, query, Ctx};
use crate::app::AppState;
use crate::authz::OrgAccess;
use crate::core::delegations::{BundleSpec, DelegationFilter, DelegationSpec};
use crate::core::manage::{AdminFilter, OrgCall};
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use crate::tenancy::TenantKind;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Which form a refusal belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    Create,
    Row,
    Settings,
}

/// The customer chooser of the MSP host (a GET form).
fn chooser(orgs: &[Org], chosen: &str) -> String {
    let customers: Vec<(&str, &str)> = std::iter::once(("", "Choose a customer"))
        .chain(
            orgs.iter()
                .filter(|o| !o.current)
                .map(|o| (o.name.as_str(), o.display_name.as_str())),
        )
        .collect();
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/portal/delegations\" aria-label=\"Choose a customer\">\
         {sel}<p><button type=\"submit\">Show</button></p></form>",
        sel = select("delegation-org", "org", "Customer", &customers, chosen),
    )
}

/// The customer's own pages rather than the MSP's view of the customer.
fn customer_side(ctx: &Ctx, call: &OrgCall) -> bool {
    ctx.host.kind == TenantKind::Customer && call.org.id == ctx.host.id
}

/// Why an MSP user on the customer's host gets no "Delegate" form.
const CREATED_BY_MSP: &str = "MSP staff create delegations from the MSP's portal; \
     here the organization's own org-full admins create, approve and revoke them";

fn news_of(q: &HashMap<String, String>) -> Option<&'static str> {
    match field(q, "done")? {
        "created" => Some("Delegation created."),
        "approved" => Some("Delegation approved."),
        "revoked" => Some("Delegation revoked."),
        "settings" => Some("Setting saved."),
        _ => None,
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
    let q = query(raw);
    if ctx.host.kind == TenantKind::Msp && field(&q, "org").is_none() {
        let orgs = orgs_of(&s.core, &ctx).await;
        let body = format!(
            "<h1>Delegations</h1><p>Choose the customer whose delegations to see.</p>{}",
            chooser(&orgs, "")
        );
        return layout::page(
            &ctx,
            &orgs,
            StatusCode::OK,
            Nav::Delegations,
            "Delegations",
            &body,
        );
    }
    let call = match org_of(&s.core, &ctx, field(&q, "org")).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    render(
        &s.core,
        &ctx,
        &call,
        StatusCode::OK,
        news_of(&q),
        &HashMap::new(),
        None,
    )
    .await
}

fn user_of(v: &Value) -> String {
    v["email"]
        .as_str()
        .or_else(|| v["id"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn row_form(ctx: &Ctx, call: &OrgCall, action: &str, id: &str, text: &str, danger: bool) -> String {
    format!(
        "<form method=\"post\" action=\"/portal/delegations/{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"org\" value=\"{org}\">\
         <input type=\"hidden\" name=\"id\" value=\"{id}\">\
         <button type=\"submit\"{class}>{text}</button></form>",
        csrf = esc(&ctx.csrf),
        org = esc(&call.org.name),
        id = esc(id),
        class = if danger { " class=\"danger\"" } else { "" },
    )
}

fn error_block(id: &str, error: Option<(Where, &str)>, here: Where) -> String {
    match error {
        Some((w, e)) if w == here => format!(
            "<p id=\"{id}\" class=\"error\" role=\"alert\">error: {}</p>",
            esc(e)
        ),
        _ => String::new(),
    }
}

async fn render(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    status: StatusCode,
    news: Option<&str>,
    typed: &HashMap<String, String>,
    error: Option<(Where, &str)>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let own = core.own_org_full(call);
    let on_customer_host = customer_side(ctx, call);
    let may_change = own || call.is_org_full();

    let top = if ctx.host.kind == TenantKind::Msp {
        chooser(&orgs, &call.org.name)
    } else {
        String::new()
    };

    // Customer side: who of the MSP reaches this organization, and why.
    let access = if on_customer_host {
        let filter = AdminFilter {
            q: None,
            access: None,
            designation: None,
            status: None,
            limit: None,
            cursor: None,
        };
        let inner = match core.list_org_admins(call, &filter).await {
            Ok(items) => {
                let mut rows = String::new();
                for a in items.iter().filter(|a| {
                    a.designations.contains(&"msp") || a.designations.contains(&"delegation")
                }) {
                    let mut why = Vec::new();
                    if a.designations.contains(&"msp") {
                        let role = a
                            .msp
                            .as_ref()
                            .and_then(|m| m["role"].as_str())
                            .map(|r| format!("MSP role {r}"))
                            .unwrap_or_else(|| "MSP role".into());
                        why.push(role);
                    }
                    if a.designations.contains(&"delegation") {
                        why.push("Delegation".into());
                    }
                    rows.push_str(&format!(
                        "<tr><th scope=\"row\">{email}</th><td>{msp}</td><td>{why}</td><td>{access}</td></tr>",
                        email = esc(&a.email),
                        msp = esc(
                            a.msp
                                .as_ref()
                                .and_then(|m| m["tenant"].as_str())
                                .unwrap_or_default()
                        ),
                        why = esc(&why.join(", ")),
                        access = a.effective.org_access.as_str(),
                    ));
                }
                if rows.is_empty() {
                    rows.push_str("<tr><td colspan=\"4\">No MSP user has access.</td></tr>");
                }
                format!(
                    "<div class=\"table-wrap\" tabindex=\"0\"><table><caption>MSP users with access</caption>\
                     <thead><tr><th scope=\"col\">E-mail</th><th scope=\"col\">MSP</th>\
                     <th scope=\"col\">Why</th><th scope=\"col\">Org access</th></tr></thead>\
                     <tbody>{rows}</tbody></table></div>"
                )
            }
            Err(e) => notice(true, &describe(&e).1),
        };
        format!(
            "<section aria-labelledby=\"msp-access-h\"><h2 id=\"msp-access-h\">MSP users with access</h2>{inner}</section>"
        )
    } else {
        String::new()
    };

    // Customer side: the "require approval" setting.
    let setting = if on_customer_host {
        let current = core
            .api_settings(call)
            .await
            .ok()
            .and_then(|v| v["require_approval"].as_bool())
            .unwrap_or(false);
        let control = if own {
            format!(
                "<form method=\"post\" action=\"/portal/delegations/settings\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"org\" value=\"{org}\">\
                 <p><input id=\"require-approval\" name=\"require_approval\" type=\"checkbox\" value=\"on\"{checked}> \
                 <label for=\"require-approval\">New delegations need approval by this organization's own admins</label></p>\
                 <p><button type=\"submit\">Save setting</button></p></form>",
                csrf = esc(&ctx.csrf),
                org = esc(&call.org.name),
                checked = if current { " checked" } else { "" },
            )
        } else {
            format!(
                "<p>New delegations {} approval.</p>",
                if current { "need" } else { "do not need" }
            )
        };
        format!(
            "<section aria-labelledby=\"approval-h\"><h2 id=\"approval-h\">Approval</h2>{err}{control}</section>",
            err = error_block("settings-error", error, Where::Settings),
        )
    } else {
        String::new()
    };

    let table = match core
        .api_list_delegations(call, &DelegationFilter::default())
        .await
    {
        Ok(items) => {
            let mut rows = String::new();
            for d in &items {
                let mut actions = String::new();
                if d.state == "pending" && own {
                    actions.push_str(&row_form(ctx, call, "approve", &d.id, "Approve", false));
                }
                if (d.state == "pending" || d.state == "approved") && may_change {
                    actions.push_str(&row_form(ctx, call, "revoke", &d.id, "Revoke", true));
                }
                rows.push_str(&format!(
                    "<tr><th scope=\"row\">{user}</th><td>{customer}</td><td>{access}</td><td>{state}</td>\
                     <td>{expires}</td><td>{approved}</td><td>{actions}</td></tr>",
                    user = esc(&user_of(&d.msp_user)),
                    customer = esc(&d.customer),
                    access = esc(d.bundle["org_access"].as_str().unwrap_or_default()),
                    state = d.state,
                    expires = esc(d.expires_at.as_deref().unwrap_or("never")),
                    approved = esc(&d.approved_by.as_ref().map(user_of).unwrap_or_default()),
                ));
            }
            if items.is_empty() {
                rows.push_str("<tr><td colspan=\"7\">No delegations.</td></tr>");
            }
            format!(
                "<div class=\"table-wrap\" tabindex=\"0\"><table><caption>Delegations of {org} ({n})</caption>\
                 <thead><tr><th scope=\"col\">MSP user</th><th scope=\"col\">Customer</th>\
                 <th scope=\"col\">Org access</th><th scope=\"col\">State</th><th scope=\"col\">Expires</th>\
                 <th scope=\"col\">Approved by</th><th scope=\"col\">Actions</th></tr></thead>\
                 <tbody>{rows}</tbody></table></div>",
                org = esc(&call.org.display_name),
                n = items.len(),
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    };
    let list = format!(
        "<section aria-labelledby=\"delegations-h\"><h2 id=\"delegations-h\">Delegations</h2>{err}{table}</section>",
        err = error_block("delegation-action-error", error, Where::Row),
    );

    // Delegations are made in a customer (core answers "not found" elsewhere): from the
    // MSP's side, or by the customer's own org-full admins (rule 10).
    let create = if may_change
        && call.org.kind == TenantKind::Customer
        && (!on_customer_host || core.own_org_full(call))
    {
        let networks = core.api_list_networks(call, None).await.unwrap_or_default();
        create_form(ctx, call, &networks, typed, error)
    } else {
        error_block("create-delegation-error", error, Where::Create)
    };

    let body = format!(
        "<h1>Delegations of {org}</h1>{news}{top}{access}{setting}{list}{create}",
        org = esc(&call.org.display_name),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
    );
    layout::page(ctx, &orgs, status, Nav::Delegations, "Delegations", &body)
}

fn create_form(
    ctx: &Ctx,
    call: &OrgCall,
    networks: &[crate::core::networks::NetworkResource],
    typed: &HashMap<String, String>,
    error: Option<(Where, &str)>,
) -> String {
    let v = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
    let err = error_block("create-delegation-error", error, Where::Create);
    let invalid = if err.is_empty() {
        ""
    } else {
        " aria-invalid=\"true\" aria-describedby=\"create-delegation-error\""
    };
    let access = select(
        "new-delegation-access",
        "org_access",
        "Org access",
        &[
            ("", "Full without grants, none with grants"),
            ("none", "None (network grants only)"),
            ("read-only", "Read-only"),
            ("full", "Full"),
        ],
        typed.get("org_access").map_or("", String::as_str),
    );
    let grants = network_grants(networks, typed, "delegation-grant", false);
    format!(
        "<section aria-labelledby=\"create-delegation-h\"><h2 id=\"create-delegation-h\">Delegate a technician to {org}</h2>{err}\
         <form method=\"post\" action=\"/portal/delegations\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"org\" value=\"{org_name}\">\
         <div class=\"stack\">\
         <p><label for=\"new-delegation-user\">MSP user (e-mail or usr_ id)</label>\
         <input id=\"new-delegation-user\" name=\"msp_user\" type=\"text\" required maxlength=\"254\" value=\"{user}\"{invalid}></p>\
         <p><label for=\"new-delegation-expiry\">Expires (RFC 3339, e.g. 2030-01-31T18:00:00Z; empty for never)</label>\
         <input id=\"new-delegation-expiry\" name=\"expires_at\" type=\"text\" maxlength=\"64\" value=\"{expires}\"></p>\
         {access}</div>\
         <fieldset><legend>Network grants</legend><div class=\"stack\">{grants}</div>\
         <p><label for=\"new-delegation-tags\">Tag grants, one per line as <code>TAG=ACCESS</code> (e.g. <code>branch=read-only</code>)</label>\
         <textarea id=\"new-delegation-tags\" name=\"tag_grants\" rows=\"3\">{tag_grants}</textarea></p></fieldset>\
         <p><button type=\"submit\">Delegate</button></p></form></section>",
        org = esc(&call.org.display_name),
        csrf = esc(&ctx.csrf),
        org_name = esc(&call.org.name),
        user = v("msp_user"),
        expires = v("expires_at"),
        tag_grants = v("tag_grants"),
    )
}

async fn finish(
    s: &AppState,
    ctx: &Ctx,
    call: &OrgCall,
    result: Result<(), Error>,
    done: &str,
    at: Where,
    typed: HashMap<String, String>,
) -> Response {
    kit::finish(
        "/portal/delegations",
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

/// POST `/portal/delegations`: `api_create_delegation`, from the MSP's side or by the
/// customer's own org-full admins (403 in place for anyone else on the customer's host,
/// before core is asked).
pub async fn create(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = async {
        if customer_side(&ctx, &call) && !s.core.own_org_full(&call) {
            return Err(Error::forbidden("delegation_not_allowed", CREATED_BY_MSP));
        }
        let org_access = match field(&f, "org_access") {
            None => None,
            Some(a) => Some(OrgAccess::parse(a).ok_or_else(|| {
                Error::invalid("invalid_org_access", format!("'{a}' is not an org access"))
            })?),
        };
        let grants = grants_of(&f)?;
        let bundle = (org_access.is_some() || !grants.is_empty()).then_some(BundleSpec {
            org_access,
            org_roles: Vec::new(),
            grants,
        });
        let spec = DelegationSpec {
            msp_user: field(&f, "msp_user").unwrap_or_default().to_string(),
            bundle,
            expires_at: field(&f, "expires_at").map(str::to_string),
        };
        s.core.api_create_delegation(&call, spec).await.map(|_| ())
    }
    .await;
    finish(&s, &ctx, &call, result, "created", Where::Create, f).await
}

/// POST `/portal/delegations/approve`: `api_approve_delegation`.
pub async fn approve(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    let result = s.core.api_approve_delegation(&call, id).await.map(|_| ());
    finish(
        &s,
        &ctx,
        &call,
        result,
        "approved",
        Where::Row,
        HashMap::new(),
    )
    .await
}

/// POST `/portal/delegations/revoke`: `api_revoke_delegation`.
pub async fn revoke(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    let result = s.core.api_revoke_delegation(&call, id).await;
    finish(
        &s,
        &ctx,
        &call,
        result,
        "revoked",
        Where::Row,
        HashMap::new(),
    )
    .await
}

/// POST `/portal/delegations/settings`: `api_update_settings` with `require_approval`
/// (an unchecked box sends nothing: off).
pub async fn settings(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let on = field(&f, "require_approval").is_some();
    let result = s
        .core
        .api_update_settings(&call, json!({ "require_approval": on }))
        .await
        .map(|_| ());
    finish(
        &s,
        &ctx,
        &call,
        result,
        "settings",
        Where::Settings,
        HashMap::new(),
    )
    .await
}
