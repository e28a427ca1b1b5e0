//! `/portal/admins`: the administrators of one organization (`?org=`, the host's own by
//! default; on an MSP host also any customer the caller reaches), listed and filtered by
//! `Core::list_org_admins`, and "Add admin" through `Core::api_add_admin`, the function
//! behind `POST /api/v1/orgs/{org}/admins`, so every rule of privileges.md applies and its
//! refusal is shown next to the form.

use super::kit::{back as back_to, get_call, orgs_of, PortalPost};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::authz::{Grant, NetworkAccess, OrgAccess, Target};
use crate::core::admins::AdminSpec;
use crate::core::manage::{AdminFilter, AdminResource, OrgCall};
use crate::core::networks::NetworkResource;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

const ACCESSES: &[&str] = &[
    "monitor-only",
    "read-only",
    "full",
    "guest-ambassador",
    "installer",
];

/// Whether the caller could add any admin here (org full, or full on some network): the
/// form is hidden otherwise; core decides either way.
pub(super) fn may_add(call: &OrgCall) -> bool {
    call.is_org_full()
        || call
            .eff
            .networks
            .keys()
            .any(|n| call.can(n, "network.admins.manage"))
}

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
    let news = field(&q, "added")
        .filter(|e| e.len() <= 254 && e.contains('@'))
        .map(|e| format!("Added {e}; an enrolment link was sent by e-mail."))
        .or_else(|| super::admin_actions::news_of(&q).map(str::to_string));
    render(
        &s.core,
        &ctx,
        &call,
        &q,
        StatusCode::OK,
        news.as_deref(),
        &HashMap::new(),
        None,
        None,
    )
    .await
}

fn filter_of(q: &HashMap<String, String>) -> AdminFilter {
    AdminFilter {
        q: field(q, "q").map(|v| v.chars().take(100).collect()),
        access: field(q, "access").map(str::to_string),
        designation: field(q, "designation").map(str::to_string),
        status: field(q, "status").map(str::to_string),
        limit: None,
        cursor: None,
    }
}

pub(super) fn select(
    id: &str,
    name: &str,
    label: &str,
    options: &[(&str, &str)],
    chosen: &str,
) -> String {
    let mut opts = String::new();
    for (value, text) in options {
        opts.push_str(&format!(
            "<option value=\"{v}\"{sel}>{t}</option>",
            v = esc(value),
            t = esc(text),
            sel = if *value == chosen { " selected" } else { "" },
        ));
    }
    format!(
        "<p><label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{name}\">{opts}</select></p>"
    )
}

fn marks(a: &AdminResource) -> String {
    let mut out = Vec::new();
    if a.designations.contains(&"org") {
        out.push("<span class=\"tag\">Org</span>");
    }
    if a.designations.contains(&"msp") {
        out.push("<span class=\"tag\">MSP</span>");
    }
    if a.designations.contains(&"delegation") {
        out.push("<span class=\"tag\">MSP (delegation)</span>");
    }
    out.join(" ")
}

/// The page; `error` belongs to the add form, `row_error` to a row's action.
#[allow(clippy::too_many_arguments)]
pub(super) async fn render(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    q: &HashMap<String, String>,
    status: StatusCode,
    news: Option<&str>,
    typed: &HashMap<String, String>,
    error: Option<&str>,
    row_error: Option<&str>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let filter = filter_of(q);
    let org_name = call.org.name.clone();
    let org_select: Vec<(&str, &str)> = if ctx.on_own_msp() {
        orgs.iter()
            .map(|o| (o.name.as_str(), o.display_name.as_str()))
            .collect()
    } else {
        vec![(ctx.host.name.as_str(), ctx.host.display_name.as_str())]
    };
    let filters = format!(
        "<form class=\"filters\" method=\"get\" action=\"/portal/admins\" role=\"search\" aria-label=\"Filter administrators\">\
         {org}\
         <p><label for=\"admin-q\">Search name or e-mail</label>\
         <input id=\"admin-q\" name=\"q\" type=\"search\" maxlength=\"100\" value=\"{qv}\"></p>\
         {access}{designation}{status}\
         <p><button type=\"submit\">Filter</button></p></form>",
        org = select("admin-org", "org", "Organization", &org_select, &org_name),
        qv = esc(filter.q.as_deref().unwrap_or_default()),
        access = select(
            "admin-access",
            "access",
            "Org access",
            &[("", "Any"), ("full", "Full"), ("read-only", "Read-only"), ("none", "None")],
            filter.access.as_deref().unwrap_or_default()
        ),
        designation = select(
            "admin-designation",
            "designation",
            "Kind",
            &[("", "Any"), ("org", "Org"), ("msp", "MSP role"), ("delegation", "MSP delegation")],
            filter.designation.as_deref().unwrap_or_default()
        ),
        status = select(
            "admin-status",
            "status",
            "Status",
            &[("", "Any"), ("active", "Enrolled"), ("pending", "Pending"), ("locked", "Locked"), ("disabled", "Disabled")],
            filter.status.as_deref().unwrap_or_default()
        ),
    );
    let manages = may_add(call);
    let table = match core.list_org_admins(call, &filter).await {
        Ok(items) => {
            let mut rows = String::new();
            for a in &items {
                let state = match a.status.as_str() {
                    "active" => "enrolled",
                    other => other,
                };
                let roles = if a.effective.org_roles.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", esc(&a.effective.org_roles.join(", ")))
                };
                let actions = if manages {
                    format!(
                        "<td>{}</td>",
                        super::admin_actions::row_actions(ctx, call, a)
                    )
                } else {
                    String::new()
                };
                rows.push_str(&format!(
                    "<tr><th scope=\"row\">{email}</th><td>{name}</td><td>{marks}</td>\
                     <td>{access}{roles}</td><td class=\"num\">{nets}</td><td>{state}</td>{actions}</tr>",
                    email = esc(&a.email),
                    name = esc(a.name.as_deref().unwrap_or("")),
                    marks = marks(a),
                    access = a.effective.org_access.as_str(),
                    nets = a.effective.networks,
                    state = esc(state),
                ));
            }
            if items.is_empty() {
                rows.push_str(&format!(
                    "<tr><td colspan=\"{}\">No administrators match.</td></tr>",
                    if manages { 7 } else { 6 }
                ));
            }
            format!(
                "{row_error}<div class=\"table-wrap\" tabindex=\"0\"><table><caption>Administrators of {org} ({n})</caption>\
                 <thead><tr><th scope=\"col\">E-mail</th><th scope=\"col\">Name</th><th scope=\"col\">Kind</th>\
                 <th scope=\"col\">Org access</th><th scope=\"col\" class=\"num\">Networks</th><th scope=\"col\">Status</th>{actions}</tr></thead>\
                 <tbody>{rows}</tbody></table></div>",
                row_error = row_error
                    .map(|e| format!("<p id=\"row-error\" class=\"error\" role=\"alert\">error: {}</p>", esc(e)))
                    .unwrap_or_default(),
                org = esc(&call.org.display_name),
                n = items.len(),
                actions = if manages { "<th scope=\"col\">Actions</th>" } else { "" },
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    };
    let add = if may_add(call) {
        let networks = core.api_list_networks(call, None).await.unwrap_or_default();
        add_form(ctx, call, &networks, typed, error)
    } else {
        error.map(|e| notice(true, e)).unwrap_or_default()
    };
    let body = format!(
        "<h1>Administrators of {org}</h1>{news}{filters}{table}{add}",
        org = esc(&call.org.display_name),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
    );
    layout::page(ctx, &orgs, status, Nav::Admins, "Administrators", &body)
}

fn add_form(
    ctx: &Ctx,
    call: &OrgCall,
    networks: &[NetworkResource],
    typed: &HashMap<String, String>,
    error: Option<&str>,
) -> String {
    let v = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
    let (error, invalid) = match error {
        Some(e) => (
            format!(
                "<p id=\"add-admin-error\" class=\"error\" role=\"alert\">error: {}</p>",
                esc(e)
            ),
            " aria-invalid=\"true\" aria-describedby=\"add-admin-error\"",
        ),
        None => (String::new(), ""),
    };
    let access = select(
        "new-admin-access",
        "org_access",
        "Org access",
        &[
            ("none", "None (network grants only)"),
            ("read-only", "Read-only"),
            ("full", "Full"),
        ],
        typed.get("org_access").map_or("none", String::as_str),
    );
    let grants = network_grants(networks, typed, "grant", true);
    format!(
        "<section aria-labelledby=\"add-admin-h\"><h2 id=\"add-admin-h\">Add admin to {org}</h2>{error}\
         <form method=\"post\" action=\"/portal/admins\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"org\" value=\"{org_name}\">\
         <div class=\"stack\">\
         <p><label for=\"new-admin-email\">E-mail</label>\
         <input id=\"new-admin-email\" name=\"email\" type=\"email\" required maxlength=\"254\" value=\"{email}\"{invalid}></p>\
         <p><label for=\"new-admin-name\">Name (optional)</label>\
         <input id=\"new-admin-name\" name=\"name\" type=\"text\" maxlength=\"200\" value=\"{name}\"></p>\
         {access}</div>\
         <fieldset><legend>Network grants</legend><div class=\"stack\">{grants}</div>\
         <p><label for=\"new-admin-tags\">Tag grants, one per line as <code>TAG=ACCESS</code> (e.g. <code>branch=read-only</code>)</label>\
         <textarea id=\"new-admin-tags\" name=\"tag_grants\" rows=\"3\">{tag_grants}</textarea></p></fieldset>\
         <p><button type=\"submit\">Add admin</button></p></form></section>",
        org = esc(&call.org.display_name),
        csrf = esc(&ctx.csrf),
        org_name = esc(&call.org.name),
        email = v("email"),
        name = v("name"),
        tag_grants = v("tag_grants"),
    )
}
/// One select per visible network (no grant, each access level, each port privilege),
/// named `grant.{network id}` as [`grants_of`] reads them, with ids `{id_prefix}-{i}`;
/// the networks' tags in the label when `with_tags`.
pub(super) fn network_grants(
    networks: &[NetworkResource],
    typed: &HashMap<String, String>,
    id_prefix: &str,
    with_tags: bool,
) -> String {
    let mut grants = String::new();
    for (i, n) in networks.iter().enumerate() {
        let mut options: Vec<(String, String)> = vec![(String::new(), "No grant".into())];
        options.extend(ACCESSES.iter().map(|a| (a.to_string(), a.to_string())));
        options.extend(n.port_privileges.iter().map(|p| {
            (
                format!("port:{}", p.name),
                format!("port privilege {}", p.name),
            )
        }));
        let key = format!("grant.{}", n.id);
        let chosen = typed.get(&key).map(String::as_str).unwrap_or_default();
        let opts: Vec<(&str, &str)> = options
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let tags = if !with_tags || n.tags.is_empty() {
            String::new()
        } else {
            format!(" (tags: {})", n.tags.join(", "))
        };
        grants.push_str(&select(
            &format!("{id_prefix}-{i}"),
            &key,
            &format!("{}{tags}", n.name),
            &opts,
            chosen,
        ));
    }
    if networks.is_empty() {
        grants.push_str("<p class=\"hint\">You see no network here.</p>");
    }
    grants
}

/// The grants a form asks for: one per network select, and the tag lines.
pub(super) fn grants_of(f: &HashMap<String, String>) -> Result<Vec<Grant>, Error> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = f.keys().filter(|k| k.starts_with("grant.")).collect();
    keys.sort();
    for k in keys {
        let Some(access) = field(f, k) else { continue };
        let network = k.trim_start_matches("grant.");
        let access = NetworkAccess::parse(access).ok_or_else(|| {
            Error::invalid(
                "invalid_grant",
                format!("'{access}' is not a network access"),
            )
        })?;
        out.push(Grant {
            target: Target::Network(network.to_string()),
            access,
        });
    }
    for line in f
        .get("tag_grants")
        .map(String::as_str)
        .unwrap_or_default()
        .lines()
    {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let g = Grant::parse(&format!("tag:{line}"))
            .filter(|g| matches!(g.target, Target::Tag(_)))
            .ok_or_else(|| {
                Error::invalid(
                    "invalid_grant",
                    format!("'{line}' is not a tag grant (TAG=ACCESS, e.g. branch=full)"),
                )
            })?;
        out.push(g);
    }
    Ok(out)
}

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
        let spec = AdminSpec::new(
            field(&f, "email").unwrap_or_default(),
            field(&f, "name"),
            org_access,
            grants_of(&f)?,
        )?;
        s.core.api_add_admin(&call, spec).await
    }
    .await;
    let mut back = HashMap::new();
    back.insert("org".to_string(), call.org.name.clone());
    match result {
        Ok(created) => back_to("/portal/admins", &call, &[("added", &created.email)]),
        Err(e) => {
            let (status, message) = describe(&e);
            let mut typed = f;
            typed.remove("csrf");
            render(
                &s.core,
                &ctx,
                &call,
                &back,
                status,
                None,
                &typed,
                Some(&message),
                None,
            )
            .await
        }
    }
}
