//! The portal's page shell: header with the organization switcher (top left), the MSP
//! banner when an MSP user acts here, navigation and sign-out; the one stylesheet. No
//! inline script or style; landmarks (`header`, `nav`, `main`) and one `h1` per page.

use super::Ctx;
use crate::core::Core;
use crate::error::Result;
use crate::http::escape_html;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One organization of the switcher and where choosing it leads.
#[derive(Debug, Clone)]
pub struct Org {
    pub name: String,
    pub display_name: String,
    pub href: String,
    pub current: bool,
}

/// Every organization the caller can reach from this host: the host itself; on one's own
/// MSP host every customer the overview lists for the caller (MSP role, scope or
/// delegation), each through `/switch/start` on its own host; switched into a customer,
/// the way back to the MSP's portal.
pub async fn organizations(core: &Core, ctx: &Ctx) -> Result<Vec<Org>> {
    let mut out = vec![Org {
        name: ctx.host.name.clone(),
        display_name: ctx.host.display_name.clone(),
        href: "/portal".into(),
        current: true,
    }];
    if ctx.on_own_msp() {
        for c in core.api_list_customers(&ctx.principal).await? {
            out.push(customer_org(core, &c.name, &c.display_name));
        }
    } else if ctx.principal.home.id != ctx.host.id {
        let msp = &ctx.principal.home;
        out.push(Org {
            name: msp.name.clone(),
            display_name: msp.display_name.clone(),
            href: format!("{}/portal", core.issuer(&msp.name)),
            current: false,
        });
    }
    Ok(out)
}

/// A customer reached from its MSP's host: `/switch/start?to=` on the customer's own host
/// (src/oidc/switch.rs: `to` must name that host's tenant).
pub fn customer_org(core: &Core, name: &str, display_name: &str) -> Org {
    let to: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    Org {
        name: name.to_string(),
        display_name: display_name.to_string(),
        href: format!("{}/switch/start?to={to}", core.issuer(name)),
        current: false,
    }
}

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Customers,
    Admins,
    Delegations,
    Privileges,
    Networks,
    Mappings,
    Scim,
    Clients,
    Saml,
    Federation,
    Keys,
    Audit,
    Staff,
}

/// The organization switcher: a list of every organization the admin reaches, and a
/// search field (its suggestions from a datalist, no script) that takes part of a name.
fn switcher(orgs: &[Org]) -> String {
    let mut options = String::new();
    let mut suggestions = String::new();
    for o in orgs {
        let name = escape_html(&o.name);
        let display = escape_html(&o.display_name);
        options.push_str(&format!(
            "<option value=\"{name}\"{sel}>{display} ({name})</option>",
            sel = if o.current { " selected" } else { "" },
        ));
        suggestions.push_str(&format!("<option value=\"{name}\">{display}</option>"));
    }
    format!(
        "<form class=\"switcher\" method=\"get\" action=\"/portal/switch\" aria-label=\"Switch organization\">\
         <label for=\"org-switch\">Organization</label> \
         <select id=\"org-switch\" name=\"to\">{options}</select> \
         <label for=\"org-find\">or find</label> \
         <input type=\"search\" id=\"org-find\" name=\"find\" list=\"org-list\" size=\"12\" autocomplete=\"off\">\
         <datalist id=\"org-list\">{suggestions}</datalist> \
         <button type=\"submit\">Switch</button></form>"
    )
}

fn banner(ctx: &Ctx) -> String {
    ctx.acting
        .as_ref()
        .map(|a| {
            format!(
                "<p id=\"msp-banner\" role=\"note\">MSP user {} from MSP {}</p>",
                escape_html(&a.user),
                escape_html(&a.msp)
            )
        })
        .unwrap_or_default()
}

/// A portal page for a signed-in caller: `body` is already escaped HTML.
pub fn page(
    ctx: &Ctx,
    orgs: &[Org],
    status: StatusCode,
    nav: Nav,
    title: &str,
    body: &str,
) -> Response {
    let link = |target: Nav, href: &str, text: &str| {
        format!(
            "<li><a href=\"{href}\"{cur}>{text}</a></li>",
            cur = if target == nav {
                " aria-current=\"page\""
            } else {
                ""
            }
        )
    };
    let mut links = String::new();
    if ctx.on_own_msp() {
        links.push_str(&link(Nav::Customers, "/portal/customers", "Customers"));
        links.push_str(&link(Nav::Staff, "/portal/staff", "Staff"));
    }
    links.push_str(&link(Nav::Admins, "/portal/admins", "Administrators"));
    links.push_str(&link(
        Nav::Delegations,
        "/portal/delegations",
        "Delegations",
    ));
    for (target, href, text) in [
        (Nav::Privileges, "/portal/privileges", "Privileges"),
        (Nav::Networks, "/portal/networks", "Networks"),
        (Nav::Mappings, "/portal/role-mappings", "Role mappings"),
        (Nav::Scim, "/portal/scim-tokens", "SCIM tokens"),
        (Nav::Clients, "/portal/clients", "OIDC apps"),
        (Nav::Saml, "/portal/saml-sps", "SAML apps"),
        (Nav::Federation, "/portal/federation", "Federation"),
        (Nav::Keys, "/portal/keys", "Signing keys"),
        (Nav::Audit, "/portal/audit", "Audit log"),
    ] {
        links.push_str(&link(target, href, text));
    }
    links.push_str("<li><a href=\"/account\">Your account</a></li>");
    let header = format!(
        "<header class=\"top\">{switcher}\
         <nav aria-label=\"Portal\"><ul>{links}</ul></nav>\
         <form class=\"signout\" method=\"post\" action=\"/logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <span class=\"who\">{who}</span> <button type=\"submit\">Sign out</button></form></header>{banner}",
        switcher = switcher(orgs),
        csrf = escape_html(&ctx.csrf),
        who = escape_html(&ctx.principal.email),
        banner = banner(ctx),
    );
    let csp = format!(
        "default-src 'self'; base-uri 'none'; form-action 'self' {}; frame-ancestors 'none'",
        ctx.any_tenant
    );
    document(status, &ctx.host.display_name, title, &header, body, &csp)
}

/// A page without the caller's header (refusals before the caller is known).
pub fn bare_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p id=\"status\" role=\"alert\">{}</p><p><a href=\"/portal\">Back to the portal</a></p>",
        escape_html(title),
        escape_html(message)
    );
    document(status, "tenantry", title, "", &body, CSP)
}

fn document(
    status: StatusCode,
    org: &str,
    title: &str,
    header: &str,
    body: &str,
    csp: &str,
) -> Response {
    let mut resp = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · {org}</title><link rel=\"stylesheet\" href=\"/static/portal.css\"></head>\
             <body><a class=\"skip\" href=\"#main\">Skip to content</a>{header}\
             <main id=\"main\" tabindex=\"-1\">{body}</main></body></html>",
            title = escape_html(title),
            org = escape_html(org),
        )),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static(CSP)),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    crate::oidc::no_store(h);
    resp
}

/// A message for assistive tools: `role=status` for news, `role=alert` for errors.
pub fn notice(error: bool, text: &str) -> String {
    if error {
        format!(
            "<p class=\"error\" role=\"alert\">error: {}</p>",
            escape_html(text)
        )
    } else {
        format!("<p class=\"ok\" role=\"status\">{}</p>", escape_html(text))
    }
}

pub async fn stylesheet() -> Response {
    let mut resp = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Readable at 1280×800 and at 390 px: the header wraps, wide tables scroll inside their
/// own box, forms stack. Colours keep WCAG AA contrast; focus is always visible.
const CSS: &str = r#"*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff}
a{color:#0b57d0}
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem}
.skip:focus{left:.5rem}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.75rem 1rem;border-bottom:1px solid #c4c7c5;background:#f3f6fc}
.switcher{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem;margin-right:auto}
.switcher select{max-width:22rem}
.top nav ul{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;margin:0;padding:0}
.top nav a[aria-current=page]{font-weight:700;text-decoration:none;color:#1a1a1a}
.signout{display:flex;align-items:center;gap:.5rem}
.who{color:#444}
#msp-banner{margin:0;padding:.6rem 1rem;background:#fff4d6;border-bottom:2px solid #8a5a00;color:#3d2800;font-weight:600}
main{padding:1rem;max-width:90rem}
h1{font-size:1.6rem;margin:.2rem 0 1rem}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
.error{color:#8c1d18;background:#fce8e6;border-left:4px solid #8c1d18;padding:.5rem .75rem}
.ok{color:#0d5223;background:#e6f4ea;border-left:4px solid #0d5223;padding:.5rem .75rem}
.warn{color:#8c1d18;font-weight:600}
.table-wrap{overflow-x:auto;border:1px solid #c4c7c5}
table{border-collapse:collapse;width:100%;min-width:48rem}
caption{text-align:left;padding:.5rem;font-weight:600}
th,td{padding:.45rem .6rem;border-bottom:1px solid #e0e3e1;text-align:left;vertical-align:top}
th{background:#f3f6fc;white-space:nowrap}
td.num,th.num{text-align:right}
.filters,.stack{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin:0 0 1rem}
.filters p,.stack p{margin:0;display:flex;flex-direction:column;gap:.2rem}
input,select,textarea,button{font:inherit}
input[type=text],input[type=email],input[type=search],select,textarea{padding:.35rem .45rem;border:1px solid #747775;border-radius:4px;max-width:100%}
textarea{width:28rem;min-height:4.5rem}
button{padding:.4rem .9rem;border:1px solid #0b57d0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}
button.danger{background:#8c1d18;border-color:#8c1d18}
.hint{color:#444;font-size:.9rem}
.pager{display:flex;gap:1rem;align-items:center;margin:.75rem 0}
.inline{display:inline-block;margin:0 .3rem .3rem 0}
.table-wrap+form,.table-wrap+p{margin-top:.75rem}
.secret{font-family:ui-monospace,monospace;word-break:break-all;background:#f3f6fc;border:1px solid #747775;padding:.4rem .6rem}
ul.why{margin:0;padding-left:1.1rem}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:.85rem}
.tag{display:inline-block;padding:0 .4rem;border-radius:3px;border:1px solid #747775;font-size:.85rem}
@media (max-width:600px){
 .top{padding:.5rem}
 .switcher{width:100%}
 .switcher select{flex:1 1 8rem;min-width:8rem}
 .switcher input{flex:1 1 8rem;min-width:6rem}
 main{padding:.75rem}
 textarea{width:100%}
 .filters p,.stack p{width:100%}
}
"#;
