//! The OpenAPI 3.1 document of the admin API (api.md), served at `/api/v1/openapi.json`.
//!
//! Every operation is listed in `OPERATIONS`; the test `openapi::every_route_is_documented`
//! reads the routers' source (each route call in src/http/api/) and fails
//! when an operation is missing here or documented without a route, so the two cannot
//! drift apart.

use crate::app::AppState;
use crate::http::middleware::CurrentTenant;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// (method, path, summary, tag)
pub const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    ("get", "/api/v1/me", "The caller", "me"),
    (
        "get",
        "/api/v1/me/privileges",
        "The caller's effective privileges (?org=)",
        "me",
    ),
    (
        "get",
        "/api/v1/audit/verify",
        "Verify this tenant's audit chain",
        "audit",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/networks",
        "List visible networks",
        "networks",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/networks",
        "Create a network",
        "networks",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/networks/{id}",
        "One network",
        "networks",
    ),
    (
        "patch",
        "/api/v1/orgs/{org}/networks/{id}",
        "Rename or retag a network",
        "networks",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/networks/{id}",
        "Delete a network",
        "networks",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/networks/{id}/port-privileges",
        "List port privileges",
        "networks",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/networks/{id}/port-privileges",
        "Define a port privilege",
        "networks",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/networks/{id}/port-privileges/{name}",
        "Remove a port privilege",
        "networks",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/admins",
        "List admins (?q=&access=&designation=&status=)",
        "admins",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/admins",
        "Add an admin",
        "admins",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/admins/{id}",
        "One admin",
        "admins",
    ),
    (
        "patch",
        "/api/v1/orgs/{org}/admins/{id}",
        "Change org access and grants",
        "admins",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/admins/{id}",
        "Remove an admin",
        "admins",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/admins/{id}/unlock",
        "Unlock a locked admin",
        "admins",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/admins/{id}/resend-enrolment",
        "Resend the enrolment link",
        "admins",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/admins/{id}/recover",
        "Recover an account: passkeys and sessions revoked, a new enrolment link",
        "admins",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/admins/{id}/api-keys",
        "List an admin's API keys",
        "api-keys",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/admins/{id}/api-keys",
        "Create an API key (shown once)",
        "api-keys",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/api-keys/{id}",
        "Revoke an API key",
        "api-keys",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/explain",
        "Why an admin holds a capability",
        "privileges",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/who-can",
        "Every admin holding a capability",
        "privileges",
    ),
    ("get", "/api/v1/orgs/{org}/audit", "The audit log", "audit"),
    (
        "get",
        "/api/v1/orgs/{org}/audit/verify",
        "Verify the audit chain",
        "audit",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/settings",
        "Login policy, branding, approval",
        "settings",
    ),
    (
        "patch",
        "/api/v1/orgs/{org}/settings",
        "Change settings (JSON merge patch)",
        "settings",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/delegations",
        "List delegations",
        "delegations",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/delegations",
        "Delegate a technician",
        "delegations",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/delegations/{id}",
        "One delegation",
        "delegations",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/delegations/{id}",
        "Revoke a delegation",
        "delegations",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/delegations/{id}/approve",
        "Approve a pending delegation",
        "delegations",
    ),
    ("get", "/api/v1/staff", "List MSP staff (MSP host)", "staff"),
    ("post", "/api/v1/staff", "Add MSP staff (MSP host)", "staff"),
    ("get", "/api/v1/staff/{id}", "One staff member", "staff"),
    (
        "patch",
        "/api/v1/staff/{id}",
        "Change role and scope",
        "staff",
    ),
    (
        "delete",
        "/api/v1/staff/{id}",
        "Offboard everywhere",
        "staff",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/role-mappings",
        "List role mappings",
        "role-mappings",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/role-mappings",
        "Create a role mapping",
        "role-mappings",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/role-mappings/{id}",
        "One role mapping",
        "role-mappings",
    ),
    (
        "patch",
        "/api/v1/orgs/{org}/role-mappings/{id}",
        "Change a role mapping",
        "role-mappings",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/role-mappings/{id}",
        "Delete a role mapping",
        "role-mappings",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/clients",
        "List OAuth/OIDC clients",
        "clients",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/clients",
        "Register a client (secret shown once)",
        "clients",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/clients/{id}",
        "One client",
        "clients",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/clients/{id}",
        "Delete a client",
        "clients",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/saml-sps",
        "List SAML service providers",
        "saml-sps",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/saml-sps",
        "Register a SAML service provider from its metadata XML",
        "saml-sps",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/saml-sps/{id}",
        "Delete a SAML service provider",
        "saml-sps",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/federation",
        "List upstream identity providers (federation)",
        "federation",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/federation",
        "Add an upstream identity provider",
        "federation",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/federation/{id}",
        "An upstream identity provider",
        "federation",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/federation/{id}",
        "Remove an upstream identity provider",
        "federation",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/federation/{id}/domains/{domain}/verify",
        "Verify a declared domain by its DNS TXT record _tenantry.{domain}",
        "federation",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/scim-tokens",
        "List SCIM tokens",
        "scim-tokens",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/scim-tokens",
        "Create a SCIM token (shown once)",
        "scim-tokens",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/scim-tokens/{id}",
        "One SCIM token",
        "scim-tokens",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/scim-tokens/{id}",
        "Revoke a SCIM token",
        "scim-tokens",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/sessions",
        "List sessions",
        "sessions",
    ),
    (
        "delete",
        "/api/v1/orgs/{org}/sessions/{id}",
        "End a session",
        "sessions",
    ),
    (
        "get",
        "/api/v1/orgs/{org}/keys",
        "Published token-signing keys and SAML signing certificates with fingerprints and validity (?kind=jwt|saml)",
        "keys",
    ),
    (
        "post",
        "/api/v1/orgs/{org}/keys/rotate",
        "Rotate token-signing keys (?immediate=true), or with ?kind=saml the SAML signing certificate",
        "keys",
    ),
    (
        "get",
        "/api/v1/customers",
        "The MSP overview of customers (MSP host)",
        "customers",
    ),
    (
        "post",
        "/api/v1/customers",
        "Create a customer, optionally cloned (clone_from)",
        "customers",
    ),
    (
        "get",
        "/api/v1/customers/{name}",
        "One customer",
        "customers",
    ),
    (
        "delete",
        "/api/v1/customers/{name}",
        "Delete a customer and everything it owns",
        "customers",
    ),
    ("get", "/api/v1/openapi.json", "This document", "meta"),
];

fn operation(method: &str, path: &str, summary: &str, tag: &str) -> Value {
    let params: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let ok = match method {
        "post" => "201",
        "delete" => "204",
        _ => "200",
    };
    let error = json!({"$ref": "#/components/responses/Error"});
    let mut op = json!({
        "summary": summary,
        "tags": [tag],
        "operationId": format!("{method}{}", path.replace(['/', '{', '}', '-', '.'], "_")),
        "parameters": params,
        "responses": {
            ok: {"description": "Success"},
            "400": error, "401": error, "403": error, "404": error, "409": error, "412": error, "429": error,
        },
    });
    if path == "/api/v1/openapi.json" {
        op["security"] = json!([]);
    }
    if matches!(method, "post" | "patch") {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    op
}

/// The document for one tenant's host.
pub fn document(issuer: &str) -> Value {
    let mut paths = Map::new();
    for (method, path, summary, tag) in OPERATIONS {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = operation(method, path, summary, tag);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "tenantry admin API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": issuer}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An admin API key (tnt_ak_...) or an access token of this tenant with scope admin"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}
                }}}
            }}}}}
        }
    })
}

pub async fn serve(State(s): State<AppState>, CurrentTenant(t): CurrentTenant) -> Response {
    axum::Json(document(&s.core.issuer(&t.name))).into_response()
}
