//! Server-rendered pages and the one script they load. No inline script or style (CSP
//! `default-src 'self'`), no third-party assets; the tenant's display name is always shown.

use crate::http::escape_html;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A page: `body` is already escaped HTML.
pub fn page(status: StatusCode, org: &str, title: &str, body: &str) -> Response {
    let org = escape_html(org);
    let mut resp = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · {org}</title><script src=\"/static/passkey.js\" defer></script></head>\
             <body><header><p>{org}</p></header><main>{body}</main></body></html>",
            title = escape_html(title),
        )),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // Same-origin: form POSTs must carry their Origin (with no-referrer Chromium sends
    // `Origin: null`), and nothing reaches another host. Pages with a token in their URL
    // use [`token_page`].
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

/// A page whose URL carries a secret (an enrolment token): `Referrer-Policy: no-referrer`
/// (product.md). Its script posts with fetch(), which still sends the Origin.
pub fn token_page(status: StatusCode, org: &str, title: &str, body: &str) -> Response {
    let mut resp = page(status, org, title, body);
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The live status element the script (and assistive tools) read.
pub fn status(text: &str) -> String {
    format!(
        "<p id=\"status\" role=\"status\" aria-live=\"polite\">{}</p>",
        escape_html(text)
    )
}

pub async fn script() -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Drives navigator.credentials for the enrolment (`#register`), account
/// (`#add-passkey`) and login (`#login`) buttons; options and responses travel as JSON with base64url binary fields.
const SCRIPT: &str = r#""use strict";
(function () {
  var statusEl = function () { return document.getElementById("status"); };
  function say(t) { var s = statusEl(); if (s) { s.textContent = t; } }
  function dec(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    s += "====".slice((s.length % 4) || 4);
    var b = atob(s), a = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) { a[i] = b.charCodeAt(i); }
    return a.buffer;
  }
  function enc(buf) {
    var a = new Uint8Array(buf), s = "";
    for (var i = 0; i < a.length; i++) { s += String.fromCharCode(a[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body, csrf) {
    var headers = { "content-type": "application/json" };
    if (csrf) { headers["x-csrf-token"] = csrf; }
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: headers, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { throw new Error(j.message || ("the server answered " + r.status)); }
        return j;
      });
    });
  }
  function fail(e) { say("error: " + (e && e.message ? e.message : String(e))); }
  function register(btn) {
    var base = btn.getAttribute("data-base");
    var csrf = btn.getAttribute("data-csrf");
    var nameEl = document.getElementById("passkey-name");
    btn.disabled = true;
    say("waiting for your passkey…");
    post(base + "/start", {}, csrf).then(function (start) {
      var pk = start.options.publicKey;
      pk.challenge = dec(pk.challenge);
      pk.user.id = dec(pk.user.id);
      (pk.excludeCredentials || []).forEach(function (c) { c.id = dec(c.id); });
      return navigator.credentials.create({ publicKey: pk }).then(function (cred) {
        return post(base + "/finish", {
          ceremony: start.ceremony,
          name: nameEl ? nameEl.value : "",
          credential: {
            id: cred.id, rawId: enc(cred.rawId), type: cred.type,
            response: {
              attestationObject: enc(cred.response.attestationObject),
              clientDataJSON: enc(cred.response.clientDataJSON)
            },
            extensions: {}
          }
        }, csrf);
      });
    }).then(function (done) {
      say("registered: your passkey is ready");
      if (done.next) { window.location.assign(done.next); }
    }).catch(fail).then(function () { btn.disabled = false; });
  }
  function login(btn) {
    var pending = btn.getAttribute("data-pending");
    btn.disabled = true;
    say("waiting for your passkey…");
    post("/login/start", {}).then(function (start) {
      var pk = start.options.publicKey;
      pk.challenge = dec(pk.challenge);
      (pk.allowCredentials || []).forEach(function (c) { c.id = dec(c.id); });
      return navigator.credentials.get({ publicKey: pk }).then(function (cred) {
        var r = cred.response;
        var body = {
          ceremony: start.ceremony,
          credential: {
            id: cred.id, rawId: enc(cred.rawId), type: cred.type,
            response: {
              authenticatorData: enc(r.authenticatorData),
              clientDataJSON: enc(r.clientDataJSON),
              signature: enc(r.signature),
              userHandle: r.userHandle ? enc(r.userHandle) : null
            },
            extensions: {}
          }
        };
        if (pending) { body.pending = pending; }
        return post("/login/finish", body);
      });
    }).then(function (done) {
      say("signed in");
      if (done.next) { window.location.assign(done.next); }
    }).catch(fail).then(function () { btn.disabled = false; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var r = document.getElementById("register");
    if (r) { r.addEventListener("click", function () { register(r); }); }
    var a = document.getElementById("add-passkey");
    if (a) { a.addEventListener("click", function () { register(a); }); }
    var l = document.getElementById("login");
    if (l) { l.addEventListener("click", function () { login(l); }); }
    var f = document.getElementById("federation");
    if (f) {
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        window.location.assign("/federation/start?" + new URLSearchParams(new FormData(f)).toString());
      });
    }
    if (!window.PublicKeyCredential && (r || l)) {
      say("error: this browser does not support passkeys");
    }
  });
})();
"#;

/// Single sign-on on `/login` (home-realm discovery): an e-mail field whose domain picks
/// the organization's identity provider, and a button per provider without a domain. Empty
/// when the organization has none. The script navigates (a form's redirect to another
/// origin would meet `form-action 'self'`).
pub fn single_sign_on(
    connections: &[crate::core::federation::Connection],
    pending: Option<&str>,
) -> String {
    if connections.is_empty() {
        return String::new();
    }
    let hidden = pending
        .map(|p| {
            format!(
                "<input type=\"hidden\" name=\"pending\" value=\"{}\">",
                escape_html(p)
            )
        })
        .unwrap_or_default();
    let mut out = String::from(
        "<section aria-labelledby=\"sso-title\"><h2 id=\"sso-title\">Single sign-on</h2>",
    );
    if connections.iter().any(|c| !c.domains.is_empty()) {
        out.push_str(&format!(
            "<form id=\"federation\" method=\"get\" action=\"/federation/start\">\
             <label for=\"federation-email\">Work e-mail</label> \
             <input id=\"federation-email\" name=\"email\" type=\"email\" autocomplete=\"username\" required>{hidden} \
             <button type=\"submit\">Continue with single sign-on</button></form>"
        ));
    }
    for c in connections.iter().filter(|c| c.domains.is_empty()) {
        let mut href = format!("/federation/start?connection={}", escape_html(&c.name));
        if let Some(p) = pending {
            href.push_str(&format!("&amp;pending={}", escape_html(p)));
        }
        out.push_str(&format!(
            "<p><a class=\"federation-link\" href=\"{href}\">Sign in with {}</a></p>",
            escape_html(&c.display_name)
        ));
    }
    out.push_str("</section>");
    out
}

/// The banner on every page of an MSP user acting in a customer (product.md: the customer
/// always sees who acts): "MSP user {email} from MSP {MSP}", escaped.
pub fn msp_banner(acting: Option<&crate::core::sessions::ActingMsp>) -> String {
    acting
        .map(|a| {
            format!(
                "<p id=\"msp-banner\" role=\"note\">MSP user {} from MSP {}</p>",
                escape_html(&a.user),
                escape_html(&a.msp)
            )
        })
        .unwrap_or_default()
}
