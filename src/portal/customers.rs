//! `/portal/customers` on one's own MSP host: the MSP overview (product.md "MSP model")
//! with server-side sort, filter and pagination over `Core::api_list_customers`, "Add
//! customer" (optionally cloned from a template) through `api_create_customer`, and
//! "Delete customer" through `api_delete_customer` after the name is typed again.

use super::kit::PostForm;
use super::layout::{self, customer_org, notice, Nav, Org};
use super::{caller, describe, field, query, Ctx, Refusal};
use crate::app::AppState;
use crate::core::customers::{CustomerSummary, NewCustomer};
use crate::core::Core;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Rows per page of the overview.
pub const PAGE_SIZE: usize = 50;

/// The sortable columns: (query value, header text, numeric).
const COLUMNS: &[(&str, &str, bool)] = &[
    ("name", "Customer", false),
    ("users", "Users", true),
    ("admins", "Admins", true),
    ("org_full", "Org-full admins", true),
    ("pending", "Enrolled / pending", true),
    ("scim_sync", "SCIM last sync", false),
    ("scim_errors", "SCIM errors (24 h)", true),
    ("delegations", "Active delegations", true),
    ("federation", "Federation", false),
    ("last_sign_in", "Last sign-in", false),
    ("created", "Created", false),
];

fn compare(sort: &str, a: &CustomerSummary, b: &CustomerSummary) -> Ordering {
    let by = match sort {
        "users" => a.users.cmp(&b.users),
        "admins" => a.admins.cmp(&b.admins),
        "org_full" => a.org_full_admins.cmp(&b.org_full_admins),
        "pending" => a.pending_admins.cmp(&b.pending_admins),
        "scim_sync" => a.scim_last_sync.cmp(&b.scim_last_sync),
        "scim_errors" => a.scim_recent_errors.cmp(&b.scim_recent_errors),
        "delegations" => a.active_delegations.cmp(&b.active_delegations),
        "federation" => a.federation_connections.cmp(&b.federation_connections),
        "last_sign_in" => a.last_sign_in.cmp(&b.last_sign_in),
        "created" => a.created_at.cmp(&b.created_at),
        _ => Ordering::Equal,
    };
    by.then_with(|| a.name.cmp(&b.name))
}

/// The overview's view of the query string, normalised (unknown values fall back).
struct View {
    q: String,
    sort: &'static str,
    desc: bool,
    page: usize,
}

impl View {
    fn from(q: &HashMap<String, String>) -> View {
        let sort = q
            .get("sort")
            .and_then(|s| COLUMNS.iter().find(|c| c.0 == s))
            .map_or("name", |c| c.0);
        View {
            q: field(q, "q")
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect(),
            sort,
            desc: q.get("dir").is_some_and(|d| d == "desc"),
            page: q
                .get("page")
                .and_then(|p| p.parse::<usize>().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
        }
    }

    fn href(&self, sort: &str, desc: bool, page: usize) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            s.append_pair("q", &self.q);
        }
        s.append_pair("sort", sort);
        s.append_pair("dir", if desc { "desc" } else { "asc" });
        if page > 1 {
            s.append_pair("page", &page.to_string());
        }
        format!("/portal/customers?{}", s.finish())
    }
}

/// The add-customer form as typed, and its error, to show again in place.
#[derive(Default)]
struct AddForm {
    values: HashMap<String, String>,
    error: Option<String>,
}

/// A flash name from a redirect: only a tenant label is shown.
fn label_of(q: &HashMap<String, String>, key: &str) -> Option<String> {
    q.get(key)
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 63
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .cloned()
}

pub async fn overview(
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
    let news = if let Some(n) = label_of(&q, "created") {
        Some(format!("Customer {n} created."))
    } else {
        label_of(&q, "deleted").map(|n| format!("Customer {n} deleted with all its data."))
    };
    render(
        &s.core,
        &ctx,
        &q,
        StatusCode::OK,
        news.as_deref(),
        &AddForm::default(),
    )
    .await
}

/// Whether the caller may create and delete customers (org full on the MSP: super-users);
/// the forms are hidden otherwise, and core refuses anyway.
async fn manages_customers(core: &Core, ctx: &Ctx) -> bool {
    core.org_call(&ctx.principal, &ctx.host.name, None)
        .await
        .is_ok_and(|c| c.is_org_full())
}

async fn render(
    core: &Core,
    ctx: &Ctx,
    q: &HashMap<String, String>,
    status: StatusCode,
    news: Option<&str>,
    add: &AddForm,
) -> Response {
    if !ctx.on_own_msp() {
        return Refusal::not_found().into_response();
    }
    let all = match core.api_list_customers(&ctx.principal).await {
        Ok(v) => v,
        Err(e) => return Refusal::from(e).into_response(),
    };
    let full = manages_customers(core, ctx).await;
    let mut orgs = vec![Org {
        name: ctx.host.name.clone(),
        display_name: ctx.host.display_name.clone(),
        href: "/portal".into(),
        current: true,
    }];
    orgs.extend(
        all.iter()
            .map(|c| customer_org(core, &c.name, &c.display_name)),
    );
    let view = View::from(q);
    let needle = view.q.to_lowercase();
    let mut rows: Vec<&CustomerSummary> = all
        .iter()
        .filter(|c| {
            needle.is_empty()
                || c.name.to_lowercase().contains(&needle)
                || c.display_name.to_lowercase().contains(&needle)
        })
        .collect();
    rows.sort_by(|a, b| {
        let o = compare(view.sort, a, b);
        if view.desc {
            o.reverse()
        } else {
            o
        }
    });
    let pages = rows.len().div_ceil(PAGE_SIZE).max(1);
    let page = view.page.min(pages);
    let shown: Vec<&CustomerSummary> = rows
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .copied()
        .collect();

    let mut head = String::new();
    for (key, text, numeric) in COLUMNS {
        let current = *key == view.sort;
        let next_desc = current && !view.desc;
        let aria = if current {
            if view.desc {
                " aria-sort=\"descending\""
            } else {
                " aria-sort=\"ascending\""
            }
        } else {
            ""
        };
        head.push_str(&format!(
            "<th scope=\"col\"{aria}{class}><a href=\"{href}\">{text}</a></th>",
            class = if *numeric { " class=\"num\"" } else { "" },
            href = esc(&view.href(key, next_desc, 1)),
        ));
    }
    head.push_str("<th scope=\"col\">Actions</th>");

    let mut body_rows = String::new();
    for c in &shown {
        let warn = if c.org_full_admins < 2 {
            " <strong class=\"warn\">Warning: fewer than two</strong>"
        } else {
            ""
        };
        let open = customer_org(core, &c.name, &c.display_name).href;
        let delete = if full {
            format!(
                " · <a href=\"/portal/customers/{n}/delete\" aria-label=\"Delete {d}\">Delete…</a>",
                n = esc(&c.name),
                d = esc(&c.display_name)
            )
        } else {
            String::new()
        };
        body_rows.push_str(&format!(
            "<tr><th scope=\"row\">{d}<br><span class=\"hint\">{n}</span></th>\
             <td class=\"num\">{users}</td><td class=\"num\">{admins}</td>\
             <td class=\"num\">{full_admins}{warn}</td>\
             <td class=\"num\">{enrolled} / {pending}</td>\
             <td>{sync}</td><td class=\"num\">{errors}</td><td class=\"num\">{delegations}</td>\
             <td>{federation}</td><td>{last_sign_in}</td>\
             <td>{created}</td>\
             <td><a href=\"{open}\" aria-label=\"Open {d}\">Open</a>{delete}</td></tr>",
            d = esc(&c.display_name),
            n = esc(&c.name),
            users = c.users,
            admins = c.admins,
            full_admins = c.org_full_admins,
            enrolled = c.enrolled_admins,
            pending = c.pending_admins,
            sync = esc(c.scim_last_sync.as_deref().unwrap_or("never")),
            errors = c.scim_recent_errors,
            delegations = c.active_delegations,
            federation = match c.federation_connections {
                0 => "no".to_string(),
                n => format!("yes ({n})"),
            },
            last_sign_in = esc(c.last_sign_in.as_deref().unwrap_or("never")),
            created = esc(&c.created_at),
            open = esc(&open),
        ));
    }
    if shown.is_empty() {
        body_rows.push_str(&format!(
            "<tr><td colspan=\"{}\">No customers match.</td></tr>",
            COLUMNS.len() + 1
        ));
    }

    let mut pager = format!(
        "<nav class=\"pager\" aria-label=\"Pages\"><span>Page {page} of {pages} · {n} customer(s)</span>",
        n = rows.len()
    );
    if page > 1 {
        pager.push_str(&format!(
            "<a href=\"{}\" rel=\"prev\">Previous page</a>",
            esc(&view.href(view.sort, view.desc, page - 1))
        ));
    }
    if page < pages {
        pager.push_str(&format!(
            "<a href=\"{}\" rel=\"next\">Next page</a>",
            esc(&view.href(view.sort, view.desc, page + 1))
        ));
    }
    pager.push_str("</nav>");

    let filter = format!(
        "<form class=\"filters\" method=\"get\" action=\"/portal/customers\" role=\"search\" aria-label=\"Filter customers\">\
         <p><label for=\"q\">Search customers</label>\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{q}\" maxlength=\"100\"></p>\
         <input type=\"hidden\" name=\"sort\" value=\"{sort}\">\
         <input type=\"hidden\" name=\"dir\" value=\"{dir}\">\
         <p><button type=\"submit\">Filter</button></p></form>",
        q = esc(&view.q),
        sort = view.sort,
        dir = if view.desc { "desc" } else { "asc" },
    );

    let add_section = match (&add.error, full) {
        (_, true) => add_form(ctx, &all, add),
        (Some(e), false) => notice(true, e),
        (None, false) => String::new(),
    };
    let body = format!(
        "<h1>Customers of {msp}</h1>{news}{filter}\
         <div class=\"table-wrap\" tabindex=\"0\"><table><caption>Customers, sorted by {sorted}</caption>\
         <thead><tr>{head}</tr></thead><tbody>{body_rows}</tbody></table></div>{pager}{add_section}",
        msp = esc(&ctx.host.display_name),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
        sorted = COLUMNS
            .iter()
            .find(|c| c.0 == view.sort)
            .map_or("name", |c| c.1)
            .to_lowercase()
            + if view.desc {
                ", descending"
            } else {
                ", ascending"
            },
    );
    layout::page(ctx, &orgs, status, Nav::Customers, "Customers", &body)
}

fn add_form(ctx: &Ctx, all: &[CustomerSummary], add: &AddForm) -> String {
    let v = |k: &str| esc(add.values.get(k).map(String::as_str).unwrap_or_default());
    let chosen = add.values.get("clone_from").cloned().unwrap_or_default();
    let mut options = String::from("<option value=\"\">No template</option>");
    for c in all {
        options.push_str(&format!(
            "<option value=\"{n}\"{sel}>{d} ({n})</option>",
            n = esc(&c.name),
            d = esc(&c.display_name),
            sel = if c.name == chosen { " selected" } else { "" },
        ));
    }
    let (error, invalid) = match &add.error {
        Some(e) => (
            format!(
                "<p id=\"add-error\" class=\"error\" role=\"alert\">error: {}</p>",
                esc(e)
            ),
            " aria-invalid=\"true\" aria-describedby=\"add-error\"",
        ),
        None => (String::new(), ""),
    };
    format!(
        "<section aria-labelledby=\"add-h\"><h2 id=\"add-h\">Add customer</h2>{error}\
         <form class=\"stack\" method=\"post\" action=\"/portal/customers\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p><label for=\"new-name\">Name (becomes <code>name-{msp}</code>)</label>\
         <input id=\"new-name\" name=\"name\" type=\"text\" required maxlength=\"63\" autocomplete=\"off\" value=\"{name}\"{invalid}></p>\
         <p><label for=\"new-display\">Display name</label>\
         <input id=\"new-display\" name=\"display_name\" type=\"text\" maxlength=\"200\" value=\"{display}\"></p>\
         <p><label for=\"new-admin\">First admin's e-mail (optional)</label>\
         <input id=\"new-admin\" name=\"admin_email\" type=\"email\" maxlength=\"254\" value=\"{admin}\"></p>\
         <p><label for=\"new-clone\">Clone from (networks, role mappings, login policy, branding)</label>\
         <select id=\"new-clone\" name=\"clone_from\">{options}</select></p>\
         <p><button type=\"submit\">Add customer</button></p></form></section>",
        csrf = esc(&ctx.csrf),
        msp = esc(&ctx.host.name),
        name = v("name"),
        display = v("display_name"),
        admin = v("admin_email"),
    )
}

pub async fn create(State(s): State<AppState>, PostForm { ctx, form: f }: PostForm) -> Response {
    if !ctx.on_own_msp() {
        return Refusal::not_found().into_response();
    }
    let new = NewCustomer {
        name: field(&f, "name").unwrap_or_default().to_string(),
        display_name: field(&f, "display_name").map(str::to_string),
        admin_email: field(&f, "admin_email").map(str::to_string),
        clone_from: field(&f, "clone_from").map(str::to_string),
    };
    match s
        .core
        .api_create_customer(&ctx.principal, new, ctx.request_id.as_deref())
        .await
    {
        Ok(c) => {
            let to: String = url::form_urlencoded::byte_serialize(c.name.as_bytes()).collect();
            Redirect::to(&format!("/portal/customers?created={to}")).into_response()
        }
        Err(e) => {
            let (status, message) = describe(&e);
            let mut values = f;
            values.remove("csrf");
            render(
                &s.core,
                &ctx,
                &HashMap::new(),
                status,
                None,
                &AddForm {
                    values,
                    error: Some(message),
                },
            )
            .await
        }
    }
}

/// The customer the caller may delete, if any: listed for the caller and org full on the
/// MSP. Anything else answers as core would ("not found", or the rule's refusal).
async fn deletable(core: &Core, ctx: &Ctx, name: &str) -> Result<CustomerSummary, Refusal> {
    if !ctx.on_own_msp() {
        return Err(Refusal::not_found());
    }
    let c = core.api_get_customer(&ctx.principal, name).await?;
    core.org_call(&ctx.principal, &ctx.host.name, None)
        .await?
        .require_org_full("delete customers")?;
    Ok(c)
}

fn confirm_page(
    ctx: &Ctx,
    c: &CustomerSummary,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (error, invalid) = match error {
        Some(e) => (
            format!(
                "<p id=\"confirm-error\" class=\"error\" role=\"alert\">error: {}</p>",
                esc(e)
            ),
            " aria-invalid=\"true\" aria-describedby=\"confirm-error\"",
        ),
        None => (String::new(), ""),
    };
    let body = format!(
        "<h1>Delete customer {d}</h1>\
         <p>This removes <strong>{d}</strong> (<code>{n}</code>) and everything it owns: {users} user(s), \
         {admins} admin(s), its keys, clients, passkeys and audit log. It cannot be undone; the name stays \
         reserved for 30 days.</p>{error}\
         <form class=\"stack\" method=\"post\" action=\"/portal/customers/{n}/delete\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p><label for=\"confirm\">Type the customer's name <code>{n}</code> to confirm</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"text\" required autocomplete=\"off\"{invalid}></p>\
         <p><button class=\"danger\" type=\"submit\">Delete customer</button></p></form>\
         <p><a href=\"/portal/customers\">Cancel and go back to the customers</a></p>",
        d = esc(&c.display_name),
        n = esc(&c.name),
        users = c.users,
        admins = c.admins,
        csrf = esc(&ctx.csrf),
    );
    let orgs = [Org {
        name: ctx.host.name.clone(),
        display_name: ctx.host.display_name.clone(),
        href: "/portal".into(),
        current: true,
    }];
    layout::page(ctx, &orgs, status, Nav::Customers, "Delete customer", &body)
}

pub async fn confirm_delete(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = match caller(&s.core, &t, &headers, None).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match deletable(&s.core, &ctx, &name).await {
        Ok(c) => confirm_page(&ctx, &c, StatusCode::OK, None),
        Err(r) => r.into_response(),
    }
}

pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
    PostForm { ctx, form: f }: PostForm,
) -> Response {
    let c = match deletable(&s.core, &ctx, &name).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if field(&f, "confirm") != Some(c.name.as_str()) {
        return confirm_page(
            &ctx,
            &c,
            StatusCode::BAD_REQUEST,
            Some("the name typed does not match; nothing was deleted"),
        );
    }
    match s.core.api_delete_customer(&ctx.principal, &c.name).await {
        Ok(()) => {
            let to: String = url::form_urlencoded::byte_serialize(c.name.as_bytes()).collect();
            Redirect::to(&format!("/portal/customers?deleted={to}")).into_response()
        }
        Err(e) => {
            let (status, message) = describe(&e);
            confirm_page(&ctx, &c, status, Some(&message))
        }
    }
}
