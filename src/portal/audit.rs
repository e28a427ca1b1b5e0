//! `/portal/audit[?org=&action=&actor=&since=&msp_only=1&cursor=]`: the organization's
//! audit log, newest first, with the result of verifying its hash chain and checkpoints.
//! Entries and verification come from `Core::audit_entries` and `Core::audit_verify`,
//! the functions behind `GET /api/v1/orgs/{org}/audit[/verify]` (org read-only access or
//! more). `actor` (a user id or an MSP user's e-mail), `since` and "actions by MSP staff"
//! are the API's filters; `action` (an action name or its prefix, e.g. `admin.`) is
//! applied here to the pages core returns, reading on until a page is full.

use super::kit::{get_call, org_chooser, orgs_of, table};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::core::insight::AuditQuery;
use crate::core::manage::OrgCall;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::collections::HashMap;

const PATH: &str = "/portal/audit";
const PAGE: usize = 50;
/// How many of core's pages (of 500) one filtered page reads at most.
const MAX_SCANS: usize = 20;

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
    render(&s.core, &ctx, &call, &q).await
}

/// Up to one page of entries matching the filters, and the cursor of the next page.
async fn entries(
    core: &Core,
    call: &OrgCall,
    q: &HashMap<String, String>,
) -> Result<(Vec<Value>, Option<String>), Error> {
    let action = field(q, "action");
    let mut cursor = field(q, "cursor").map(str::to_string);
    let mut out: Vec<Value> = Vec::new();
    for _ in 0..MAX_SCANS {
        let page = core
            .audit_entries(
                call,
                &AuditQuery {
                    actor: field(q, "actor").map(str::to_string),
                    msp_only: Some(field(q, "msp_only").is_some()),
                    since: field(q, "since").map(str::to_string),
                    limit: Some(if action.is_some() { 500 } else { PAGE as u32 }),
                    cursor: cursor.clone(),
                },
            )
            .await?;
        let next = page["next_cursor"].as_str().map(str::to_string);
        let items = page["items"].as_array().cloned().unwrap_or_default();
        let n = items.len();
        for (i, e) in items.into_iter().enumerate() {
            let name = e["action"].as_str().unwrap_or_default();
            if action.is_some_and(|a| !name.starts_with(a)) {
                continue;
            }
            out.push(e);
            if out.len() == PAGE {
                // The API's cursor is the seq of the last entry shown.
                let more = i + 1 < n || next.is_some();
                let c = out
                    .last()
                    .and_then(|e| e["seq"].as_i64())
                    .map(|s| s.to_string());
                return Ok((out, c.filter(|_| more)));
            }
        }
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok((out, None)),
        }
    }
    // Read enough for one request: go on from where the reading stopped.
    Ok((out, cursor))
}

fn actor_of(e: &Value) -> String {
    match (e["actor_msp_user"].as_str(), e["actor_msp"].as_str()) {
        (Some(user), Some(msp)) => format!("MSP user {user} from MSP {msp}"),
        _ => e["actor"].as_str().unwrap_or_default().to_string(),
    }
}

fn change_of(e: &Value) -> String {
    let mut parts = Vec::new();
    if !e["before"].is_null() {
        parts.push(format!("before: {}", e["before"]));
    }
    if !e["after"].is_null() {
        parts.push(format!("after: {}", e["after"]));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "<details><summary>Change</summary><pre>{}</pre></details>",
        esc(&parts.join("\n"))
    )
}

async fn render(core: &Core, ctx: &Ctx, call: &OrgCall, q: &HashMap<String, String>) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let mut status = StatusCode::OK;
    let verification = match core.audit_verify(call).await {
        Ok(v) if v.intact => format!(
            "<p id=\"chain\" class=\"ok\" role=\"status\">Chain verified: {} entries and {} checkpoint(s), intact.</p>",
            v.entries, v.checkpoints
        ),
        Ok(v) => format!(
            "<p id=\"chain\" class=\"error\" role=\"alert\">Chain broken at entry {}: {}</p>",
            v.first_broken_seq.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
            esc(v.problem.as_deref().unwrap_or("verification failed"))
        ),
        Err(e) => {
            let (st, message) = describe(&e);
            status = st;
            notice(true, &message)
        }
    };
    let v = |k: &str| esc(field(q, k).unwrap_or_default());
    let filters = format!(
        "<form class=\"filters\" method=\"get\" action=\"{PATH}\" role=\"search\" aria-label=\"Filter the audit log\">\
         <input type=\"hidden\" name=\"org\" value=\"{org}\">\
         <p><label for=\"audit-action\">Action (or its start, e.g. admin.)</label><input id=\"audit-action\" name=\"action\" type=\"search\" maxlength=\"100\" value=\"{action}\"></p>\
         <p><label for=\"audit-actor\">Actor (user id or MSP user e-mail)</label><input id=\"audit-actor\" name=\"actor\" type=\"search\" maxlength=\"254\" value=\"{actor}\"></p>\
         <p><label for=\"audit-since\">Since (RFC 3339, e.g. 2026-11-01T00:00:00Z)</label><input id=\"audit-since\" name=\"since\" type=\"text\" maxlength=\"40\" value=\"{since}\"></p>\
         <p><label for=\"audit-msp\"><input id=\"audit-msp\" name=\"msp_only\" type=\"checkbox\" value=\"1\"{msp}> Only actions by MSP staff</label></p>\
         <p><button type=\"submit\">Filter</button></p></form>",
        org = esc(&call.org.name),
        action = v("action"),
        actor = v("actor"),
        since = v("since"),
        msp = if field(q, "msp_only").is_some() { " checked" } else { "" },
    );
    let listing = match entries(core, call, q).await {
        Ok((items, next)) => {
            let mut rows = String::new();
            for e in &items {
                rows.push_str(&format!(
                    "<tr><th scope=\"row\">{time}</th><td>{actor}</td><td>{action}</td><td>{target}</td><td>{change}</td><td><code>{rid}</code></td></tr>",
                    time = esc(e["time"].as_str().unwrap_or_default()),
                    actor = esc(&actor_of(e)),
                    action = esc(e["action"].as_str().unwrap_or_default()),
                    target = esc(e["target"].as_str().unwrap_or_default()),
                    change = change_of(e),
                    rid = esc(e["request_id"].as_str().unwrap_or_default()),
                ));
            }
            let more = next
                .map(|c| {
                    let mut to = url::form_urlencoded::Serializer::new(String::new());
                    for k in ["org", "action", "actor", "since", "msp_only"] {
                        if let Some(v) = field(q, k) {
                            to.append_pair(k, v);
                        }
                    }
                    if field(q, "org").is_none() {
                        to.append_pair("org", &call.org.name);
                    }
                    to.append_pair("cursor", &c);
                    format!(
                        "<p class=\"pager\"><a rel=\"next\" href=\"{PATH}?{}\">Older entries</a></p>",
                        esc(&to.finish())
                    )
                })
                .unwrap_or_default();
            format!(
                "{}{more}",
                table(
                    &format!("Audit log of {}, newest first", call.org.display_name),
                    &[
                        "Time (UTC)",
                        "Actor",
                        "Action",
                        "Target",
                        "Change",
                        "Request id"
                    ],
                    &rows,
                    "No entries match.",
                )
            )
        }
        Err(e) => {
            let (st, message) = describe(&e);
            status = st;
            notice(true, &message)
        }
    };
    let body = format!(
        "<h1>Audit log of {org}</h1>{chooser}{verification}{filters}{listing}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
    );
    layout::page(ctx, &orgs, status, Nav::Audit, "Audit log", &body)
}
