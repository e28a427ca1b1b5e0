//! `/portal/networks[?org=&edit=ID]`: the networks the caller sees with their tags, port
//! privileges and the caller's own access; create, rename, re-tag, delete, and add or
//! remove port privileges. Every change goes through the functions behind
//! `/api/v1/orgs/{org}/networks...` (`api_create_network`, `api_update_network`,
//! `api_delete_network`, `api_add_port_privilege`, `api_delete_port_privilege`), so rule 1
//! (tags and port privileges need org full; renaming needs full on the network) and the
//! "hidden means not found" rule are core's; a refusal is shown next to its form.

use super::kit::{
    back, button, error_at, get_call, hidden, org_chooser, orgs_of, table, words, PortalPost,
};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::core::manage::OrgCall;
use crate::core::networks::{NetworkChange, NetworkResource, NewNetwork, NewPortPrivilege};
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

const PATH: &str = "/portal/networks";

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
        Some("created") => Some("Network created."),
        Some("updated") => Some("Network saved."),
        Some("deleted") => Some("Network deleted."),
        Some("port-added") => Some("Port privilege added."),
        Some("port-removed") => Some("Port privilege removed."),
        _ => None,
    };
    render(
        &s.core,
        &ctx,
        &call,
        StatusCode::OK,
        news,
        field(&q, "edit"),
        &HashMap::new(),
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    status: StatusCode,
    news: Option<&str>,
    edit: Option<&str>,
    typed: &HashMap<String, String>,
    error: Option<(&str, &str)>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let networks = core.api_list_networks(call, None).await.unwrap_or_default();
    let full = call.is_org_full();
    let mut rows = String::new();
    for n in &networks {
        let ports: Vec<String> = n
            .port_privileges
            .iter()
            .map(|p| {
                format!(
                    "{}{}{}",
                    p.name,
                    if p.port_tags.is_empty() {
                        String::new()
                    } else {
                        format!(" (ports tagged {})", p.port_tags.join(", "))
                    },
                    if p.packet_capture {
                        ", packet capture"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        link.append_pair("org", &call.org.name);
        link.append_pair("edit", &n.id);
        rows.push_str(&format!(
            "<tr><th scope=\"row\"><a href=\"{PATH}?{link}#edit-h\">{name}</a></th><td><code>{id}</code></td>\
             <td>{tags}</td><td>{ports}</td><td>{access}</td></tr>",
            link = esc(&link.finish()),
            name = esc(&n.name),
            id = esc(&n.id),
            tags = n.tags.iter().map(|t| format!("<span class=\"tag\">{}</span>", esc(t))).collect::<Vec<_>>().join(" "),
            ports = esc(&ports.join("; ")),
            access = esc(&n.access.join(", ")),
        ));
    }
    let v = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
    let create = if full {
        format!(
            "<section aria-labelledby=\"new-net-h\"><h2 id=\"new-net-h\">Add a network</h2>{err}\
             <form method=\"post\" action=\"{PATH}\">{hidden}<div class=\"stack\">\
             <p><label for=\"new-net-name\">Name</label><input id=\"new-net-name\" name=\"name\" type=\"text\" required maxlength=\"200\" value=\"{name}\"></p>\
             <p><label for=\"new-net-tags\">Tags (separated by spaces)</label><input id=\"new-net-tags\" name=\"tags\" type=\"text\" maxlength=\"1000\" value=\"{tags}\"></p>\
             <p><button type=\"submit\">Add network</button></p></div></form></section>",
            err = error_at(error, "create"),
            hidden = hidden(ctx, call),
            name = if edit.is_none() { v("name") } else { String::new() },
            tags = if edit.is_none() { v("tags") } else { String::new() },
        )
    } else {
        error_at(error, "create")
    };
    let editor = match edit.and_then(|id| networks.iter().find(|n| n.id == id)) {
        Some(n) => edit_section(ctx, call, n, typed, error),
        None if edit.is_some() => notice(true, "not found"),
        None => String::new(),
    };
    let body = format!(
        "<h1>Networks of {org}</h1>{chooser}{news}{table}{editor}{create}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
        table = table(
            &format!(
                "Networks of {} you can see ({})",
                call.org.display_name,
                networks.len()
            ),
            &["Network", "Id", "Tags", "Port privileges", "Your access"],
            &rows,
            "You see no network here.",
        ),
    );
    layout::page(ctx, &orgs, status, Nav::Networks, "Networks", &body)
}

/// Rename and re-tag, port privileges, delete: for one network.
fn edit_section(
    ctx: &Ctx,
    call: &OrgCall,
    n: &NetworkResource,
    typed: &HashMap<String, String>,
    error: Option<(&str, &str)>,
) -> String {
    let full = call.is_org_full();
    let typed_or =
        |k: &str, current: String| esc(typed.get(k).cloned().unwrap_or(current).as_str());
    let id_field = format!(
        "<input type=\"hidden\" name=\"id\" value=\"{}\">",
        esc(&n.id)
    );
    let tags_input = if full {
        format!(
            "<p><label for=\"net-tags\">Tags (separated by spaces)</label><input id=\"net-tags\" name=\"tags\" type=\"text\" maxlength=\"1000\" value=\"{}\"></p>",
            typed_or("tags", n.tags.join(" "))
        )
    } else {
        String::new()
    };
    let mut out = format!(
        "<section aria-labelledby=\"edit-h\"><h2 id=\"edit-h\">Network {name}</h2>{err}\
         <form method=\"post\" action=\"{PATH}/update\">{hidden}{id_field}<div class=\"stack\">\
         <p><label for=\"net-name\">Name</label><input id=\"net-name\" name=\"name\" type=\"text\" required maxlength=\"200\" value=\"{name_v}\"></p>\
         {tags_input}<p><button type=\"submit\">Save</button></p></div></form>",
        name = esc(&n.name),
        err = error_at(error, "update") + &error_at(error, "delete"),
        hidden = hidden(ctx, call),
        name_v = typed_or("name", n.name.clone()),
    );
    let mut rows = String::new();
    for p in &n.port_privileges {
        let remove = if full {
            button(
                ctx,
                call,
                &format!("{PATH}/ports/delete"),
                &[("id", &n.id), ("name", &p.name)],
                "Remove",
                &format!("Remove port privilege {}", p.name),
                true,
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{name}</th><td>{tags}</td><td>{cap}</td><td>{remove}</td></tr>",
            name = esc(&p.name),
            tags = esc(&p.port_tags.join(", ")),
            cap = if p.packet_capture { "allowed" } else { "no" },
        ));
    }
    out.push_str(&format!(
        "<h3>Port privileges</h3>{}",
        error_at(error, "ports")
    ));
    out.push_str(&table(
        &format!("Port privileges of {}", n.name),
        &["Name", "Port tags", "Packet capture", "Actions"],
        &rows,
        "None defined.",
    ));
    if full {
        out.push_str(&format!(
            "<form method=\"post\" action=\"{PATH}/ports\">{hidden}{id_field}<div class=\"stack\">\
             <p><label for=\"port-name\">New port privilege name</label><input id=\"port-name\" name=\"port\" type=\"text\" required maxlength=\"64\" value=\"{port}\"></p>\
             <p><label for=\"port-tags\">Port tags (separated by spaces)</label><input id=\"port-tags\" name=\"port_tags\" type=\"text\" maxlength=\"1000\" value=\"{port_tags}\"></p>\
             <p><label for=\"port-capture\"><input id=\"port-capture\" name=\"packet_capture\" type=\"checkbox\" value=\"1\"> Allows packet capture</label></p>\
             <p><button type=\"submit\">Add port privilege</button></p></div></form>\
             <h3>Delete</h3>{delete}",
            hidden = hidden(ctx, call),
            port = esc(typed.get("port").map(String::as_str).unwrap_or_default()),
            port_tags = esc(typed.get("port_tags").map(String::as_str).unwrap_or_default()),
            delete = button(ctx, call, &format!("{PATH}/delete"), &[("id", &n.id)], "Delete network", &format!("Delete network {}", n.name), true),
        ));
    }
    out.push_str("</section>");
    out
}

/// After a POST: back to the list, or the page again with the refusal next to its form.
#[allow(clippy::too_many_arguments)]
async fn finish(
    s: &AppState,
    ctx: &Ctx,
    call: &OrgCall,
    result: Result<(), Error>,
    done: &str,
    at: &str,
    edit: Option<&str>,
    mut typed: HashMap<String, String>,
) -> Response {
    match result {
        Ok(()) => {
            let mut extra = vec![("done", done)];
            if let Some(id) = edit {
                extra.push(("edit", id));
            }
            back(PATH, call, &extra)
        }
        Err(e) => {
            let (status, message) = describe(&e);
            typed.remove("csrf");
            render(
                &s.core,
                ctx,
                call,
                status,
                None,
                edit,
                &typed,
                Some((at, &message)),
            )
            .await
        }
    }
}

/// POST `/portal/networks`: `api_create_network`.
pub async fn create(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let new = NewNetwork {
        name: field(&f, "name").unwrap_or_default().to_string(),
        tags: words(field(&f, "tags")),
    };
    let result = s.core.api_create_network(&call, new).await.map(|_| ());
    finish(&s, &ctx, &call, result, "created", "create", None, f).await
}

/// POST `/portal/networks/update`: `api_update_network` with the fields that changed
/// (an unchanged name or tag set is not sent, so renaming needs no org full).
pub async fn update(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default().to_string();
    let result = async {
        let current = s.core.api_get_network(&call, &id).await?;
        let name = field(&f, "name")
            .map(str::to_string)
            .filter(|n| *n != current.name);
        let tags = f.contains_key("tags").then(|| words(field(&f, "tags")));
        let tags = tags.filter(|t| {
            let mut a = t.clone();
            a.sort();
            a.dedup();
            a != current.tags
        });
        if name.is_none() && tags.is_none() {
            return Ok(());
        }
        s.core
            .api_update_network(&call, &id, NetworkChange { name, tags })
            .await
            .map(|_| ())
    }
    .await;
    finish(&s, &ctx, &call, result, "updated", "update", Some(&id), f).await
}

/// POST `/portal/networks/delete`: `api_delete_network`.
pub async fn delete(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default().to_string();
    let result = s.core.api_delete_network(&call, &id).await;
    let edit = result.is_err().then_some(id.as_str());
    finish(
        &s,
        &ctx,
        &call,
        result,
        "deleted",
        "delete",
        edit,
        HashMap::new(),
    )
    .await
}

/// POST `/portal/networks/ports`: `api_add_port_privilege`.
pub async fn add_port(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default().to_string();
    let new = NewPortPrivilege {
        name: field(&f, "port").unwrap_or_default().to_string(),
        port_tags: words(field(&f, "port_tags")),
        packet_capture: field(&f, "packet_capture").is_some(),
    };
    let result = s
        .core
        .api_add_port_privilege(&call, &id, new)
        .await
        .map(|_| ());
    finish(&s, &ctx, &call, result, "port-added", "ports", Some(&id), f).await
}

/// POST `/portal/networks/ports/delete`: `api_delete_port_privilege`.
pub async fn delete_port(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default().to_string();
    let name = field(&f, "name").unwrap_or_default();
    let result = s.core.api_delete_port_privilege(&call, &id, name).await;
    finish(
        &s,
        &ctx,
        &call,
        result,
        "port-removed",
        "ports",
        Some(&id),
        HashMap::new(),
    )
    .await
}
