//! `/portal/federation[?org=]`: the organization's upstream identity providers (inbound
//! federation): listed with their domains, added (OIDC: issuer, client id, client secret;
//! SAML: the IdP's metadata pasted, or its URL fetched once), removed — through the same
//! calls as `/api/v1/orgs/{org}/federation` (`api_list_connections`, org full first and
//! then `prepare_idp_metadata` and `api_create_connection`, `api_delete_connection`,
//! `api_verify_domain_by_dns`). The client secret is write-only: typed once, never shown
//! again, not even in a refused form.
//!
//! Domains are verified by a DNS TXT record or by the server's operator with the CLI
//! (decisions.md): each unverified domain shows the exact record to publish and, to an
//! org-full admin, a "Check DNS" button that asks the server to look it up. Nobody can
//! mark a domain verified here without the record: a self-verified domain would let a
//! connection with linking take over local accounts of that domain.

use super::kit::{
    self, button, error_at, get_call, hidden, lines, org_chooser, orgs_of, table, words, PortalPost,
};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::core::federation::{Connection, Kind, NewConnection};
use crate::core::manage::OrgCall;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

const PATH: &str = "/portal/federation";

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
        Some("added") => {
            Some("Connection added. Its client secret is stored and will not be shown again.")
        }
        Some("removed") => Some("Connection removed."),
        Some("verified") => Some("Domain verified: its DNS TXT record was found."),
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

fn domains_cell(ctx: &Ctx, call: &OrgCall, c: &Connection, full: bool) -> String {
    let list: Vec<String> = c
        .domains
        .iter()
        .map(|d| {
            if d.verified {
                let how = match d.verified_by.as_deref() {
                    Some("dns") => " by DNS",
                    Some("cli") => " by the operator",
                    _ => "",
                };
                return format!("{} (verified{how})", esc(&d.domain));
            }
            let r = &d.dns_record;
            let check = if full {
                button(
                    ctx,
                    call,
                    &format!("{PATH}/check-domain"),
                    &[("id", &c.id), ("domain", &d.domain)],
                    "Check DNS",
                    &format!("Check the DNS record of {}", d.domain),
                    false,
                )
            } else {
                String::new()
            };
            format!(
                "{} (not verified)<br>publish: <code class=\"dns-record\">{} {} \"{}\"</code>{check}",
                esc(&d.domain),
                esc(&r.name),
                r.kind,
                esc(&r.value),
            )
        })
        .collect();
    list.join("<br>")
}

fn row(ctx: &Ctx, call: &OrgCall, c: &Connection, full: bool) -> String {
    let remove = if full {
        button(
            ctx,
            call,
            &format!("{PATH}/delete"),
            &[("id", &c.id)],
            "Remove",
            &format!("Remove connection {}", c.name),
            true,
        )
    } else {
        String::new()
    };
    let upstream = match c.kind {
        Kind::Oidc => format!(
            "{} (client {}, secret {})",
            esc(c.issuer.as_deref().unwrap_or_default()),
            esc(c.client_id.as_deref().unwrap_or_default()),
            if c.has_client_secret { "set" } else { "none" }
        ),
        Kind::Saml => match c.metadata_url.as_deref() {
            Some(u) => format!("SAML IdP (metadata from {})", esc(u)),
            None => "SAML IdP (metadata)".into(),
        },
    };
    format!(
        "<tr><th scope=\"row\">{name}</th><td>{display}</td><td>{kind}</td><td>{upstream}</td>\
         <td>{claim}</td><td>{domains}</td><td>{linking}</td><td><code>{redirect}</code></td><td>{remove}</td></tr>",
        name = esc(&c.name),
        display = esc(&c.display_name),
        kind = c.kind.as_str(),
        claim = esc(&c.claim),
        domains = domains_cell(ctx, call, c, full),
        linking = if c.allow_linking { "yes" } else { "no" },
        redirect = esc(&c.redirect_uri),
    )
}

fn create_form(ctx: &Ctx, call: &OrgCall, typed: &HashMap<String, String>) -> String {
    let t = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or_default());
    let saml = typed.get("kind").is_some_and(|k| k == "saml");
    format!(
        "<section aria-labelledby=\"new-fed-h\"><h2 id=\"new-fed-h\">Add a connection</h2>\
         <form method=\"post\" action=\"{PATH}\">{hidden}\
         <p><label for=\"fed-kind\">Kind</label> <select id=\"fed-kind\" name=\"kind\">\
         <option value=\"oidc\"{oidc_sel}>OpenID Connect</option><option value=\"saml\"{saml_sel}>SAML 2.0</option></select></p>\
         <p><label for=\"fed-name\">Name (in URLs: lower-case letters, digits, '-')</label>\
         <input id=\"fed-name\" name=\"name\" required value=\"{name}\"></p>\
         <p><label for=\"fed-display\">Display name (on the sign-in button)</label>\
         <input id=\"fed-display\" name=\"display_name\" value=\"{display}\"></p>\
         <fieldset><legend>OpenID Connect</legend>\
         <p><label for=\"fed-issuer\">Issuer URL</label><input id=\"fed-issuer\" name=\"issuer\" type=\"url\" value=\"{issuer}\"></p>\
         <p><label for=\"fed-client\">Client id</label><input id=\"fed-client\" name=\"client_id\" value=\"{client}\"></p>\
         <p><label for=\"fed-secret\">Client secret (stored sealed, never shown again)</label>\
         <input id=\"fed-secret\" name=\"client_secret\" type=\"password\" autocomplete=\"off\"></p>\
         <p><label for=\"fed-scopes\">Scopes besides openid (spaces or commas; default: email profile)</label>\
         <input id=\"fed-scopes\" name=\"scopes\" value=\"{scopes}\"></p></fieldset>\
         <fieldset><legend>SAML 2.0</legend>\
         <p><label for=\"fed-metadata\">The IdP's metadata (an <code>EntityDescriptor</code>, XML)</label>\
         <textarea id=\"fed-metadata\" name=\"metadata\" rows=\"8\">{metadata}</textarea></p>\
         <p><label for=\"fed-metadata-url\">Or the metadata's URL (https, fetched once now)</label>\
         <input id=\"fed-metadata-url\" name=\"metadata_url\" type=\"url\" value=\"{metadata_url}\"></p></fieldset>\
         <p><label for=\"fed-claim\">Claim or attribute naming role mappings (default: groups, or role for SAML)</label>\
         <input id=\"fed-claim\" name=\"claim\" value=\"{claim}\"></p>\
         <p><label for=\"fed-domains\">E-mail domains for home-realm discovery (one a line)</label>\
         <textarea id=\"fed-domains\" name=\"domains\" rows=\"3\">{domains}</textarea></p>\
         <p><label for=\"fed-linking\"><input id=\"fed-linking\" name=\"allow_linking\" type=\"checkbox\" value=\"1\"{linking}> \
         Link existing accounts of verified domains</label></p>\
         <p><button type=\"submit\">Add connection</button></p></form>\
         <p class=\"hint\">A domain is verified by a DNS TXT record <code>_tenantry.&lt;domain&gt;</code> \
         (the value is shown in the list once the domain is added; then use Check DNS), \
         or by the server's operator: <code>tenantry federation verify-domain</code>.</p></section>",
        hidden = hidden(ctx, call),
        oidc_sel = if saml { "" } else { " selected" },
        saml_sel = if saml { " selected" } else { "" },
        name = t("name"),
        display = t("display_name"),
        issuer = t("issuer"),
        client = t("client_id"),
        scopes = t("scopes"),
        metadata = t("metadata"),
        metadata_url = t("metadata_url"),
        claim = t("claim"),
        domains = t("domains"),
        linking = if typed.contains_key("allow_linking") {
            " checked"
        } else {
            ""
        },
    )
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
    let listing = match core.api_list_connections(call).await {
        Ok(items) => {
            let rows: String = items.iter().map(|c| row(ctx, call, c, full)).collect();
            table(
                &format!(
                    "Identity providers of {} ({})",
                    call.org.display_name,
                    items.len()
                ),
                &[
                    "Name",
                    "Display name",
                    "Kind",
                    "Upstream",
                    "Role claim",
                    "Domains",
                    "Linking",
                    "Redirect URI",
                    "Actions",
                ],
                &rows,
                "No identity providers.",
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    };
    let create = if full {
        format!(
            "{}{}",
            error_at(error, "create"),
            create_form(ctx, call, typed)
        )
    } else {
        error_at(error, "create")
    };
    let body = format!(
        "<h1>Federation of {org}</h1>{chooser}{news}{row_error}{listing}{create}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
        row_error = error_at(error, "row"),
    );
    layout::page(ctx, &orgs, status, Nav::Federation, "Federation", &body)
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
        |status, message, mut typed| async move {
            // Write-only: a refused form never carries the secret back.
            typed.remove("client_secret");
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

fn text(f: &HashMap<String, String>, name: &str) -> Option<String> {
    field(f, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The form as the API's body.
fn new_connection(f: &HashMap<String, String>) -> NewConnection {
    let kind = match field(f, "kind") {
        Some("saml") => Kind::Saml,
        _ => Kind::Oidc,
    };
    let oidc = kind == Kind::Oidc;
    NewConnection {
        name: text(f, "name").unwrap_or_default(),
        display_name: text(f, "display_name"),
        kind,
        issuer: text(f, "issuer").filter(|_| oidc),
        client_id: text(f, "client_id").filter(|_| oidc),
        client_secret: text(f, "client_secret").filter(|_| oidc),
        scopes: if oidc {
            words(field(f, "scopes"))
        } else {
            Vec::new()
        },
        metadata: text(f, "metadata").filter(|_| !oidc),
        metadata_url: text(f, "metadata_url").filter(|_| !oidc),
        claim: text(f, "claim"),
        domains: lines(f.get("domains")),
        allow_linking: f.contains_key("allow_linking"),
    }
}

/// POST `/portal/federation`: org full first (a caller who may not create learns nothing
/// from parsing), then the SAML metadata check, then `api_create_connection`.
pub async fn create(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let result = async {
        call.require_org_full("change federation settings")?;
        let mut new = new_connection(&f);
        crate::federation::saml_sp::prepare_idp_metadata(&mut new, s.core.allow_insecure_fetch)
            .await?;
        s.core.api_create_connection(&call, new).await.map(|_| ())
    }
    .await;
    finish(&s, &ctx, &call, result, "added", "create", f).await
}

/// POST `/portal/federation/delete`: `api_delete_connection`.
pub async fn delete(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    let result = s.core.api_delete_connection(&call, id).await;
    finish(&s, &ctx, &call, result, "removed", "row", HashMap::new()).await
}

/// POST `/portal/federation/check-domain`: `api_verify_domain_by_dns` (org full first; the
/// server looks up `_tenantry.{domain}`); a failure is shown by the list, nothing changed.
pub async fn check_domain(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let id = field(&f, "id").unwrap_or_default();
    let domain = field(&f, "domain").unwrap_or_default();
    let server = s.core.dns_server;
    let result = s
        .core
        .api_verify_domain_by_dns(&call, id, domain, |name| {
            crate::federation::dns::txt_records(server, name)
        })
        .await
        .map(|_| ());
    finish(&s, &ctx, &call, result, "verified", "row", HashMap::new()).await
}
