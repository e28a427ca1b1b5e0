//! `/portal/privileges[?org=]`: privileges explained (issue 8 item 5). For an admin
//! (`admin=`): the effective org access and, per network the caller sees, the admin's
//! effective accesses with every reason the engine gives (`Core::explain`, the function
//! behind `GET /api/v1/orgs/{org}/explain`, asked for `network.view`, which every access
//! carries, so each grant that reaches the network is named), plus "explain one
//! capability". For a network (`network=`): who can reach it and why (`Core::who_can`,
//! behind `GET .../who-can`). What the caller may not see is "not found", as in the API.

use super::admins::select;
use super::kit::{get_call, org_chooser, orgs_of, table};
use super::layout::{self, notice, Nav};
use super::{describe, field};
use crate::app::AppState;
use crate::authz::{NETWORK_CAPABILITIES, ORG_CAPABILITIES};
use crate::core::manage::{AdminFilter, AdminResource, OrgCall};
use crate::core::networks::NetworkResource;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::collections::HashMap;

/// The capability that every network access carries: its reasons are every grant that
/// reaches the network.
const REACH: &str = "network.view";

pub async fn page(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (ctx, q, call) = match get_call(&s, &t, &headers, raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let orgs = orgs_of(&s.core, &ctx).await;
    let mut status = StatusCode::OK;
    let networks = s
        .core
        .api_list_networks(&call, None)
        .await
        .unwrap_or_default();
    let admins = s.core.list_org_admins(&call, &AdminFilter::default()).await;
    let mut body = format!(
        "<h1>Privileges in {org}</h1>{chooser}\
         <p class=\"hint\">Privileges add up: each network shows every grant that reaches it and \
         where it comes from (own account, MSP role, delegation, mapped role). Only networks you \
         can see are listed.</p>",
        org = esc(&call.org.display_name),
        chooser = org_chooser(&ctx, &orgs, "/portal/privileges", &call),
    );
    match &admins {
        Ok(list) => {
            body.push_str(&admin_section(&s.core, &call, &q, list, &networks, &mut status).await)
        }
        Err(e) => {
            let (st, message) = describe(e);
            status = st;
            body.push_str(&format!(
                "<section aria-labelledby=\"adm-h\"><h2 id=\"adm-h\">An administrator's access</h2>{}</section>",
                notice(true, &message)
            ))
        }
    }
    body.push_str(&network_section(&s.core, &call, &q, &networks, &mut status).await);
    layout::page(&ctx, &orgs, status, Nav::Privileges, "Privileges", &body)
}

/// Every capability name, the ports' ones of the visible networks included.
fn capabilities(networks: &[NetworkResource], org_too: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if org_too {
        out.extend(ORG_CAPABILITIES.iter().map(|c| c.to_string()));
    }
    out.extend(NETWORK_CAPABILITIES.iter().map(|c| c.to_string()));
    let mut ports: Vec<String> = networks
        .iter()
        .flat_map(|n| n.port_privileges.iter())
        .flat_map(|p| {
            [
                format!("ports.{}.manage", p.name),
                format!("ports.{}.capture", p.name),
            ]
        })
        .collect();
    ports.sort();
    ports.dedup();
    out.extend(ports);
    out
}

fn reasons(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn why(list: &[String]) -> String {
    if list.is_empty() {
        return "—".into();
    }
    let items: String = list
        .iter()
        .map(|r| format!("<li>{}</li>", esc(r)))
        .collect();
    format!("<ul class=\"why\">{items}</ul>")
}

fn network_name<'a>(networks: &'a [NetworkResource], id: &'a str) -> &'a str {
    networks
        .iter()
        .find(|n| n.id == id)
        .map_or(id, |n| n.name.as_str())
}

async fn admin_section(
    core: &Core,
    call: &OrgCall,
    q: &HashMap<String, String>,
    admins: &[AdminResource],
    networks: &[NetworkResource],
    status: &mut StatusCode,
) -> String {
    let chosen = field(q, "admin").unwrap_or_default();
    let mut options: Vec<(&str, &str)> = vec![("", "Choose an administrator")];
    options.extend(admins.iter().map(|a| (a.id.as_str(), a.email.as_str())));
    let mut out = format!(
        "<section aria-labelledby=\"adm-h\"><h2 id=\"adm-h\">An administrator's access</h2>\
         <form class=\"filters\" method=\"get\" action=\"/portal/privileges\" aria-label=\"Choose an administrator\">\
         <input type=\"hidden\" name=\"org\" value=\"{org}\">{sel}<p><button type=\"submit\">Explain</button></p></form>",
        org = esc(&call.org.name),
        sel = select("why-admin", "admin", "Administrator", &options, chosen),
    );
    if chosen.is_empty() {
        out.push_str("</section>");
        return out;
    }
    match explain_admin(core, call, chosen, networks).await {
        Ok(html) => out.push_str(&html),
        Err(e) => {
            let (st, message) = describe(&e);
            *status = st;
            out.push_str(&notice(true, &message));
            out.push_str("</section>");
            return out;
        }
    }
    out.push_str(&capability_form(core, call, q, chosen, networks, status).await);
    out.push_str("</section>");
    out
}

/// The admin's effective access: org row, then one row per network the caller sees.
async fn explain_admin(
    core: &Core,
    call: &OrgCall,
    admin: &str,
    networks: &[NetworkResource],
) -> Result<String, Error> {
    let mut conn = core.store.conn().await?;
    let (_, res, eff) = core.find_admin(&mut conn, call, admin).await?;
    drop(conn);
    let mut org_why = Vec::new();
    for cap in ["org.view", "org.users.helpdesk"] {
        for r in reasons(&core.explain(call, admin, None, cap).await?) {
            if !org_why.contains(&r) {
                org_why.push(r);
            }
        }
    }
    let mut org_level = eff.org_access.as_str().to_string();
    if !eff.org_roles.is_empty() {
        org_level.push_str(&format!(" (roles: {})", eff.org_roles.join(", ")));
    }
    let mut rows = format!(
        "<tr><th scope=\"row\">Organization</th><td>{}</td><td>{}</td></tr>",
        esc(&org_level),
        why(&org_why)
    );
    for n in networks {
        let (access, reasons_html) = match eff.networks.get(&n.id) {
            Some(accesses) => {
                let e = core.explain(call, admin, Some(&n.id), REACH).await?;
                (accesses.join(", "), why(&reasons(&e)))
            }
            None => ("none (hidden from this admin)".to_string(), "—".to_string()),
        };
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{name} <span class=\"hint\">{id}</span></th><td>{access}</td><td>{reasons_html}</td></tr>",
            name = esc(&n.name),
            id = esc(&n.id),
            access = esc(&access),
        ));
    }
    Ok(format!(
        "<p id=\"why-summary\">{email}: org access <strong>{level}</strong>, {count} network(s) visible.</p>{table}",
        email = esc(&res.email),
        level = esc(eff.org_access.as_str()),
        count = eff.networks.len(),
        table = table(
            &format!("Effective access of {}", res.email),
            &["Scope", "Effective access", "Why"],
            &rows,
            "",
        ),
    ))
}

/// "Does this admin hold capability C in scope S, and why": `Core::explain`.
async fn capability_form(
    core: &Core,
    call: &OrgCall,
    q: &HashMap<String, String>,
    admin: &str,
    networks: &[NetworkResource],
    status: &mut StatusCode,
) -> String {
    let scope = field(q, "scope").unwrap_or("org");
    let capability = field(q, "capability");
    let mut scopes: Vec<(&str, &str)> = vec![("org", "The organization")];
    scopes.extend(networks.iter().map(|n| (n.id.as_str(), n.name.as_str())));
    let caps = capabilities(networks, true);
    let cap_opts: Vec<(&str, &str)> = caps.iter().map(|c| (c.as_str(), c.as_str())).collect();
    let mut out = format!(
        "<h3>Explain one capability</h3>\
         <form class=\"filters\" method=\"get\" action=\"/portal/privileges\" aria-label=\"Explain a capability\">\
         <input type=\"hidden\" name=\"org\" value=\"{org}\"><input type=\"hidden\" name=\"admin\" value=\"{admin}\">\
         {scope}{cap}<p><button type=\"submit\">Explain</button></p></form>",
        org = esc(&call.org.name),
        admin = esc(admin),
        scope = select("why-scope", "scope", "Scope", &scopes, scope),
        cap = select("why-capability", "capability", "Capability", &cap_opts, capability.unwrap_or("org.view")),
    );
    let Some(capability) = capability else {
        return out;
    };
    let network = (scope != "org").then_some(scope);
    match core.explain(call, admin, network, capability).await {
        Ok(v) => {
            let held = v["held"].as_bool().unwrap_or(false);
            out.push_str(&format!(
                "<div id=\"why-result\" role=\"status\"><p><strong>{verdict}</strong>: {cap} in {scope}.</p>{why}</div>",
                verdict = if held { "Held" } else { "Not held" },
                cap = esc(capability),
                scope = esc(if scope == "org" { "the organization" } else { network_name(networks, scope) }),
                why = if held { why(&reasons(&v)) } else { String::new() },
            ));
        }
        Err(e) => {
            let (st, message) = describe(&e);
            *status = st;
            out.push_str(&notice(true, &message));
        }
    }
    out
}

/// Who can reach a network (or hold a capability there): `Core::who_can`.
async fn network_section(
    core: &Core,
    call: &OrgCall,
    q: &HashMap<String, String>,
    networks: &[NetworkResource],
    status: &mut StatusCode,
) -> String {
    let chosen = field(q, "network").unwrap_or_default();
    let capability = field(q, "for").unwrap_or(REACH);
    let mut options: Vec<(&str, &str)> = vec![("", "Choose a network")];
    options.extend(networks.iter().map(|n| (n.id.as_str(), n.name.as_str())));
    let caps = capabilities(networks, false);
    let cap_opts: Vec<(&str, &str)> = caps.iter().map(|c| (c.as_str(), c.as_str())).collect();
    let mut out = format!(
        "<section aria-labelledby=\"who-h\"><h2 id=\"who-h\">Who can reach a network</h2>\
         <form class=\"filters\" method=\"get\" action=\"/portal/privileges\" aria-label=\"Choose a network\">\
         <input type=\"hidden\" name=\"org\" value=\"{org}\">{net}{cap}<p><button type=\"submit\">Show</button></p></form>",
        org = esc(&call.org.name),
        net = select("who-network", "network", "Network", &options, chosen),
        cap = select("who-capability", "for", "Capability", &cap_opts, capability),
    );
    if chosen.is_empty() {
        out.push_str("</section>");
        return out;
    }
    match core.who_can(call, capability, Some(chosen)).await {
        Ok(v) => {
            let mut rows = String::new();
            for h in v["admins"].as_array().into_iter().flatten() {
                let kinds: Vec<&str> = h["designations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                rows.push_str(&format!(
                    "<tr><th scope=\"row\">{email}</th><td>{kinds}</td><td>{why}</td></tr>",
                    email = esc(h["email"].as_str().unwrap_or_default()),
                    kinds = esc(&kinds.join(", ")),
                    why = why(&reasons(h)),
                ));
            }
            out.push_str(&table(
                &format!(
                    "Administrators holding {capability} on {}",
                    network_name(networks, chosen)
                ),
                &["Administrator", "Kind", "Why"],
                &rows,
                "Nobody you can see holds it.",
            ));
        }
        Err(e) => {
            let (st, message) = describe(&e);
            *status = st;
            out.push_str(&notice(true, &message));
        }
    }
    out.push_str("</section>");
    out
}
