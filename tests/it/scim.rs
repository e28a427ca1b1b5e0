//! SCIM 2.0 (issue 6): discovery, token authentication and tenant isolation, users and
//! groups with filters, sorting, pagination, projection, PATCH dialects (the Entra ID and
//! Okta fixtures), ETags, Bulk, errors that change nothing, and group membership driving
//! role mappings.

use crate::support::{test_app, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use tenantry::core::audit::Actor;

const G: &str = "globex-acme.localhost:8080";
const I: &str = "initech-acme.localhost:8080";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct World {
    app: TestApp,
    token: String,
    other_token: String,
}

async fn world() -> World {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    let token = scim_token(&app, "globex-acme").await;
    let other_token = scim_token(&app, "initech-acme").await;
    World {
        app,
        token,
        other_token,
    }
}

async fn scim_token(app: &TestApp, tenant: &str) -> String {
    let t = app.core.find_tenant(tenant).await.expect("tenant");
    let v = app
        .core
        .create_scim_token(&t, "entra", &Actor::cli(), None)
        .await
        .expect("scim token");
    v.token.expect("shown once")
}

impl World {
    async fn scim(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, v, _) = self.scim_h(G, &self.token, method, path, body, &[]).await;
        (s, v)
    }

    async fn scim_h(
        &self,
        host: &str,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let path = format!("/scim/v2{path}");
        self.app
            .api_with(method, host, &path, Some(token), body, headers)
            .await
    }

    async fn create_user(&self, user_name: &str, extra: Value) -> Value {
        let mut body = json!({"schemas": [USER], "userName": user_name, "active": true});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (s, v) = self.scim("POST", "/Users", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    async fn ids(&self, path: &str) -> Vec<String> {
        let (s, v) = self.scim("GET", path, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        v["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect()
    }
}

fn scim_type(v: &Value) -> &str {
    v["scimType"].as_str().unwrap_or("")
}

fn assert_error(s: StatusCode, v: &Value, status: u16, kind: Option<&str>) {
    assert_eq!(s.as_u16(), status, "{v}");
    assert_eq!(v["schemas"], json!([ERR]), "{v}");
    assert_eq!(v["status"], json!(status.to_string()), "{v}");
    if let Some(k) = kind {
        assert_eq!(scim_type(v), k, "{v}");
    }
}

#[tokio::test]
async fn discovery_documents_come_from_the_scim_folder() {
    let w = world().await;
    let (s, v) = w.scim("GET", "/ServiceProviderConfig", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["patch"]["supported"], true);
    assert_eq!(v["bulk"]["supported"], true);
    assert_eq!(v["bulk"]["maxOperations"], 1000);
    assert_eq!(v["filter"]["supported"], true);
    assert_eq!(v["etag"]["supported"], true);
    assert_eq!(v["sort"]["supported"], true);
    let (s, v) = w.scim("GET", "/Schemas", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids: Vec<&str> = v["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for want in [
        USER,
        GROUP,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert!(ids.contains(&want), "{ids:?}");
    }
    let (s, v) = w.scim("GET", &format!("/Schemas/{USER}"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["meta"]["location"],
        format!("http://globex-acme.localhost:8080/scim/v2/Schemas/{USER}")
    );
    let (s, v) = w.scim("GET", "/ResourceTypes/User", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["endpoint"], "/Users");
    let (s, v) = w.scim("GET", "/ResourceTypes/Nope", None).await;
    assert_error(s, &v, 404, None);
    let (s, v) = w.scim("GET", "/Me", None).await;
    assert_error(s, &v, 501, None);
    let (s, v) = w.scim("GET", "/Nothing/here", None).await;
    assert_error(s, &v, 404, None);
}

#[tokio::test]
async fn tokens_are_per_tenant_hashed_and_revocable() {
    let w = world().await;
    let u = w.create_user("alice@globex.example", json!({})).await;
    let id = u["id"].as_str().expect("id");
    // No token, a wrong token, another tenant's token: 401 in the SCIM error schema.
    let (s, v, h) = w.scim_h(G, "", "GET", "/Users", None, &[]).await;
    assert_error(s, &v, 401, None);
    assert!(h.contains_key("www-authenticate"));
    let (s, v, _) = w
        .scim_h(G, "tnt_scim_nope", "GET", "/Users", None, &[])
        .await;
    assert_error(s, &v, 401, None);
    let (s, v, _) = w
        .scim_h(G, &w.other_token, "GET", &format!("/Users/{id}"), None, &[])
        .await;
    assert_error(s, &v, 401, None);
    // Initech's token at Initech's host does not see Globex's user.
    let (s, v, _) = w
        .scim_h(I, &w.other_token, "GET", &format!("/Users/{id}"), None, &[])
        .await;
    assert_error(s, &v, 404, None);
    let (s, v, _) = w
        .scim_h(I, &w.other_token, "GET", "/Users", None, &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["totalResults"], 0, "{v}");
    // The secret is not stored: the database holds only its hash.
    let mut conn = w.app.core.store.conn().await.expect("conn");
    let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM scim_tokens")
        .fetch_all(&mut *conn)
        .await
        .expect("tokens");
    assert!(stored.iter().all(|(h,)| !h.contains(&w.token)));
    drop(conn);
    // Admin API: list (no secrets), create (shown once), revoke.
    let boss = w
        .app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(tenantry::authz::OrgAccess::Full),
            vec![],
        )
        .await;
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/scim-tokens",
            Some(&boss.key),
            Some(json!({"name": "okta"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let new = v["token"].as_str().expect("token").to_string();
    assert!(new.starts_with("tnt_scim_"));
    assert_eq!(
        v["scim_base_url"],
        "http://globex-acme.localhost:8080/scim/v2"
    );
    let (s, v, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/scim-tokens",
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "{v}");
    assert!(!v.to_string().contains("tnt_scim_"), "{v}");
    let tid = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "okta")
        .and_then(|t| t["id"].as_str())
        .expect("the okta token")
        .to_string();
    let (s, _, _) = w.scim_h(G, &new, "GET", "/Users", None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = w
        .app
        .api(
            "DELETE",
            G,
            &format!("/api/v1/orgs/globex-acme/scim-tokens/{tid}"),
            Some(&boss.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v, _) = w.scim_h(G, &new, "GET", "/Users", None, &[]).await;
    assert_error(s, &v, 401, None);
}

#[tokio::test]
async fn users_filters_sorting_pagination_and_projection() {
    let w = world().await;
    let people = [
        (
            "bjensen@example.com",
            "Barbara",
            "Jensen",
            "work",
            "Sales",
            true,
        ),
        (
            "jsmith@example.com",
            "John",
            "Smith",
            "home",
            "Engineering",
            true,
        ),
        (
            "adoe@example.com",
            "Alice",
            "Doe",
            "work",
            "Engineering",
            false,
        ),
        ("zed@example.org", "Zed", "Zulu", "work", "Support", true),
    ];
    let mut ids = HashMap::new();
    for (un, given, family, etype, dept, active) in people {
        let v = w
            .create_user(
                un,
                json!({
                    "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                    "name": {"givenName": given, "familyName": family},
                    "emails": [{"value": un, "type": etype, "primary": true}],
                    "active": active,
                    "title": if given == "Barbara" { json!("Tour Guide") } else { Value::Null },
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept},
                }),
            )
            .await;
        ids.insert(given, v["id"].as_str().expect("id").to_string());
    }
    let q = |f: &str| format!("/Users?filter={}", urlencode(f));
    let set = |names: &[&str]| {
        let mut v: Vec<String> = names.iter().map(|n| ids[n].clone()).collect();
        v.sort();
        v
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (r#"userName eq "BJENSEN@example.com""#, vec!["Barbara"]),
        (r#"name.familyName co "O""#, vec!["Alice"]),
        (r#"name.familyName co "Q""#, vec![]),
        (r#"name.familyName co "e""#, vec!["Barbara", "Alice"]),
        (r#"userName sw "j""#, vec!["John"]),
        (r#"userName ew ".org""#, vec!["Zed"]),
        (r#"title pr"#, vec!["Barbara"]),
        (r#"not (title pr)"#, vec!["John", "Alice", "Zed"]),
        (r#"active eq false"#, vec!["Alice"]),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            vec!["Barbara", "Alice"],
        ),
        (r#"emails.type eq "home""#, vec!["John"]),
        (r#"title pr and userType eq "Employee""#, vec![]),
        (
            r#"userName eq "zed@example.org" or (name.givenName eq "alice" and active eq false)"#,
            vec!["Zed", "Alice"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Engineering""#,
            vec!["John", "Alice"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "John""#,
            vec!["John"],
        ),
        (
            r#"meta.created ge "2000-01-01T00:00:00Z""#,
            vec!["Barbara", "John", "Alice", "Zed"],
        ),
        (
            r#"userName ne "zed@example.org""#,
            vec!["Barbara", "John", "Alice"],
        ),
    ];
    for (f, want) in cases {
        let mut got = w.ids(&q(f)).await;
        got.sort();
        assert_eq!(got, set(&want), "filter {f}");
    }
    // Bad filters: 400 invalidFilter.
    for f in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "nosuch eq \"a\"",
        "emails[type eq \"work\"",
        "active gt true",
    ] {
        let (s, v) = w.scim("GET", &q(f), None).await;
        assert_error(s, &v, 400, Some("invalidFilter"));
    }
    // Sorting and pagination.
    let (_, v) = w
        .scim(
            "GET",
            "/Users?sortBy=name.givenName&sortOrder=descending&startIndex=2&count=2",
            None,
        )
        .await;
    assert_eq!(v["totalResults"], 4, "{v}");
    assert_eq!(v["startIndex"], 2);
    assert_eq!(v["itemsPerPage"], 2);
    let got: Vec<&str> = v["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"]["givenName"].as_str())
        .collect();
    assert_eq!(got, ["John", "Barbara"], "{v}");
    let (_, v) = w.scim("GET", "/Users?count=0", None).await;
    assert_eq!(v["totalResults"], 4);
    assert_eq!(v["Resources"].as_array().map(Vec::len).unwrap_or(0), 0);
    // Projection.
    let (_, v) = w
        .scim(
            "GET",
            &format!(
                "/Users/{}?attributes=userName,name.familyName",
                ids["Barbara"]
            ),
            None,
        )
        .await;
    assert_eq!(v["userName"], "bjensen@example.com", "{v}");
    assert_eq!(v["name"]["familyName"], "Jensen", "{v}");
    assert!(
        v.get("emails").is_none() && v["name"].get("givenName").is_none(),
        "{v}"
    );
    assert_eq!(v["id"], json!(ids["Barbara"]), "id is always returned");
    let (_, v) = w
        .scim(
            "GET",
            &format!("/Users/{}?excludedAttributes=emails,name", ids["Barbara"]),
            None,
        )
        .await;
    assert!(v.get("emails").is_none() && v.get("name").is_none(), "{v}");
    assert_eq!(v["userName"], "bjensen@example.com");
    // .search with a SearchRequest body.
    let (s, v) = w
        .scim(
            "POST",
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "attributes": ["userName"],
                "filter": "name.givenName sw \"J\"",
                "startIndex": 1,
                "count": 10
            })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["totalResults"], 1, "{v}");
    assert_eq!(v["Resources"][0]["userName"], "jsmith@example.com");
    assert!(v["Resources"][0].get("name").is_none());
}

/// A little over `mib` MiB.
fn bulk_body_size(mib: usize) -> usize {
    mib * 1_048_576 + 10
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Replace {user}, {group}, ... in strings of a JSON value.
fn fill(v: &Value, ids: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            let mut s = s.clone();
            for (k, id) in ids {
                s = s.replace(&format!("{{{k}}}"), id);
            }
            Value::String(s)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, ids)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), fill(x, ids))).collect())
        }
        other => other.clone(),
    }
}

/// A dotted path into a JSON value, where a key may itself contain dots if quoted by the
/// URN form: "urn:...:User.department" splits at the last dots after the URN.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let (mut cur, rest) = match path.strip_prefix("urn:") {
        Some(_) => {
            let (urn, rest) = path.split_once('.').unwrap_or((path, ""));
            // The enterprise URN contains "2.0": rejoin until the key exists.
            let mut key = urn.to_string();
            let mut tail = rest;
            while v.get(&key).is_none() {
                match tail.split_once('.') {
                    Some((a, b)) => {
                        key = format!("{key}.{a}");
                        tail = b;
                    }
                    None => {
                        key = format!("{key}.{tail}");
                        tail = "";
                        break;
                    }
                }
            }
            (&v[key.as_str()], tail)
        }
        None => (v, path),
    };
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        cur = match part.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[part],
        };
    }
    cur
}

async fn run_fixture(file: &str) {
    let w = world().await;
    let text = std::fs::read_to_string(format!("tests/fixtures/scim/{file}")).expect("fixture");
    let fixture: Value = serde_json::from_str(&text).expect("fixture JSON");
    let mut ids: HashMap<String, String> = HashMap::new();
    for step in fixture["steps"].as_array().expect("steps") {
        let name = step["name"].as_str().unwrap_or("?");
        let path = fill(&step["path"], &ids);
        let path = path.as_str().expect("path");
        let body = step.get("body").map(|b| fill(b, &ids));
        let method = step["method"].as_str().expect("method");
        let (s, v) = w.scim(method, path, body).await;
        let expect = step["expect"].as_u64().expect("expect") as u16;
        assert_eq!(s.as_u16(), expect, "{file}: {name}: {v}");
        if let Some(k) = step["scimType"].as_str() {
            assert_error(s, &v, expect, Some(k));
        }
        if let Some(key) = step["save"].as_str() {
            ids.insert(key.to_string(), v["id"].as_str().expect("id").to_string());
        }
        if let Some(total) = step.get("total") {
            assert_eq!(&v["totalResults"], total, "{file}: {name}: {v}");
        }
        if let Some(checks) = step["check"].as_object() {
            for (p, want) in checks {
                assert_eq!(at(&v, p), want, "{file}: {name}: {p} in {v}");
            }
        }
        if let Some(n) = step["members"].as_u64() {
            let got = v["members"].as_array().map(Vec::len).unwrap_or(0);
            assert_eq!(got as u64, n, "{file}: {name}: {v}");
        }
        for a in step["absent"].as_array().into_iter().flatten() {
            let a = a.as_str().unwrap_or("");
            assert!(v.get(a).is_none(), "{file}: {name}: {a} in {v}");
        }
    }
}

#[tokio::test]
async fn entra_id_request_sequence() {
    run_fixture("entra.json").await;
}

#[tokio::test]
async fn okta_request_sequence() {
    run_fixture("okta.json").await;
}

#[tokio::test]
async fn etags_and_concurrent_patches() {
    let w = world().await;
    let u = w.create_user("etag@globex.example", json!({})).await;
    let id = u["id"].as_str().expect("id").to_string();
    let path = format!("/Users/{id}");
    let (s, v, h) = w.scim_h(G, &w.token, "GET", &path, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    let etag = h["etag"].to_str().expect("etag").to_string();
    assert_eq!(v["meta"]["version"], json!(etag));
    // If-None-Match with the current version: 304.
    let (s, _, _) = w
        .scim_h(G, &w.token, "GET", &path, None, &[("if-none-match", &etag)])
        .await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    let patch = |name: &str| json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": name}]});
    // Two PATCHes with the same If-Match, at the same time: exactly one 412.
    let im = [("if-match", etag.as_str())];
    let a = w.scim_h(G, &w.token, "PATCH", &path, Some(patch("A")), &im);
    let b = w.scim_h(G, &w.token, "PATCH", &path, Some(patch("B")), &im);
    let ((sa, va, _), (sb, vb, _)) = tokio::join!(a, b);
    let mut statuses = [sa.as_u16(), sb.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "{va} {vb}");
    // A stale If-Match on PUT and DELETE: 412 and nothing changes.
    let (s, v, _) = w
        .scim_h(
            G,
            &w.token,
            "PUT",
            &path,
            Some(json!({"schemas": [USER], "userName": "changed@globex.example"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(s.as_u16(), 412, "{v}");
    let (s, _, _) = w
        .scim_h(G, &w.token, "DELETE", &path, None, &[("if-match", &etag)])
        .await;
    assert_eq!(s.as_u16(), 412);
    // A version that is not an entity tag: 400 invalidVers.
    let (s, v, _) = w
        .scim_h(G, &w.token, "DELETE", &path, None, &[("if-match", "3")])
        .await;
    assert_error(s, &v, 400, Some("invalidVers"));
    let (_, v) = w.scim("GET", &path, None).await;
    assert_eq!(v["userName"], "etag@globex.example");
    let current = v["meta"]["version"].as_str().expect("version").to_string();
    assert_ne!(current, etag);
    let (s, _, _) = w
        .scim_h(
            G,
            &w.token,
            "DELETE",
            &path,
            None,
            &[("if-match", &current)],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_failed_request_changes_nothing() {
    let w = world().await;
    let u = w
        .create_user("atomic@globex.example", json!({"displayName": "Before", "emails": [{"value": "atomic@globex.example", "type": "work"}]}))
        .await;
    let path = format!("/Users/{}", u["id"].as_str().expect("id"));
    // The first operation is fine, the second names no target: neither applies.
    let body = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "After"},
        {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "x@y.z"}
    ]});
    let (s, v) = w.scim("PATCH", &path, Some(body)).await;
    assert_error(s, &v, 400, Some("noTarget"));
    let (_, v) = w.scim("GET", &path, None).await;
    assert_eq!(v["displayName"], "Before", "{v}");
    // Bad JSON, wrong schemas, bad values, read-only attributes.
    let raw = w
        .app
        .request(
            axum::http::Request::post("/scim/v2/Users")
                .header("host", G)
                .header("authorization", format!("Bearer {}", w.token))
                .header("content-type", "application/scim+json")
                .body(axum::body::Body::from("{not json"))
                .expect("request"),
        )
        .await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_str(&raw.body).expect("json");
    assert_eq!(scim_type(&v), "invalidSyntax", "{v}");
    assert_eq!(raw.headers["content-type"], "application/scim+json");
    let (s, v) = w
        .scim("POST", "/Users", Some(json!({"userName": "noschemas"})))
        .await;
    assert_error(s, &v, 400, Some("invalidSyntax"));
    let (s, v) = w
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "x@y.z", "active": "maybe"})),
        )
        .await;
    assert_error(s, &v, 400, Some("invalidValue"));
    let (s, v) = w
        .scim("POST", "/Users", Some(json!({"schemas": [USER]})))
        .await;
    assert_error(s, &v, 400, Some("invalidValue"));
    let (s, v) = w.scim("PATCH", &path, Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "groups", "value": [{"value": "grp_x"}]}]}))).await;
    assert_error(s, &v, 400, Some("mutability"));
    let (s, v) = w
        .scim(
            "PATCH",
            &path,
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "remove"}]})),
        )
        .await;
    assert_error(s, &v, 400, Some("noTarget"));
    let (s, v) = w.scim("GET", "/Users?sortOrder=sideways", None).await;
    assert_error(s, &v, 400, Some("invalidValue"));
    let (_, v) = w.scim("GET", "/Users", None).await;
    assert_eq!(v["totalResults"], 1, "nothing was created: {v}");
    // The MSP overview counts the errors.
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    let (last, errors) = w.app.core.scim_status(&t).await.expect("status");
    assert!(last.is_some());
    assert!(errors >= 7, "{errors}");
}

#[tokio::test]
async fn bulk_with_bulk_ids_and_fail_on_errors() {
    let w = world().await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq", "data": {
                "schemas": [GROUP], "displayName": "Tour Guides",
                "members": [{"type": "User", "value": "bulkId:qwerty"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": {
                "schemas": [USER], "userName": "alice@bulk.example"}},
            {"method": "PATCH", "path": "/Users/bulkId:qwerty", "data": {
                "schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Alice"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {
                "schemas": [USER], "userName": "ALICE@bulk.example"}},
            {"method": "DELETE", "path": "/Users/usr_doesnotexist"}
        ]
    });
    let (s, v) = w.scim("POST", "/Bulk", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ops = v["Operations"].as_array().expect("ops");
    let status: Vec<&str> = ops.iter().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(status, ["201", "201", "200", "409", "404"], "{v}");
    assert!(ops[0]["location"]
        .as_str()
        .unwrap_or("")
        .contains("/scim/v2/Groups/grp_"));
    let (_, g) = w
        .scim(
            "GET",
            "/Groups?filter=displayName+eq+%22Tour%20Guides%22",
            None,
        )
        .await;
    let alice = ops[1]["location"]
        .as_str()
        .expect("location")
        .rsplit('/')
        .next()
        .expect("id");
    assert_eq!(g["Resources"][0]["members"][0]["value"], alice, "{g}");
    // failOnErrors 1: processing stops at the first error.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 1,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER], "userName": "alice@bulk.example"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "bob@bulk.example"}}
        ]
    });
    let (_, v) = w.scim("POST", "/Bulk", Some(body)).await;
    assert_eq!(v["Operations"].as_array().map(Vec::len), Some(1), "{v}");
    let (_, v) = w
        .scim(
            "GET",
            "/Users?filter=userName+eq+%22bob@bulk.example%22",
            None,
        )
        .await;
    assert_eq!(v["totalResults"], 0);
    // Bodies past maxPayloadSize, and far past it: 413 in the SCIM error schema.
    for size in [bulk_body_size(1), bulk_body_size(5)] {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [], "pad": "x".repeat(size)});
        let (s, v) = w.scim("POST", "/Bulk", Some(body)).await;
        assert_error(s, &v, 413, None);
    }
    // Too many operations: 413.
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/x{i}")}))
        .collect();
    let (s, v) = w.scim("POST", "/Bulk", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": many}))).await;
    assert_error(s, &v, 413, None);
}

#[tokio::test]
async fn group_membership_drives_role_mappings_and_enrolment() {
    let w = world().await;
    let owner = w
        .app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(tenantry::authz::OrgAccess::Full),
            vec![],
        )
        .await;
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            "/api/v1/orgs/globex-acme/role-mappings",
            Some(&owner.key),
            Some(json!({
                "name": "readers", "bundle": {"org_access": "read-only"},
                "selectors": [{"kind": "group_name", "value": "Network Ops"}]
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let u = w
        .create_user(
            "ops@globex.example",
            json!({"emails": [{"value": "ops@globex.example", "primary": true}]}),
        )
        .await;
    let uid = u["id"].as_str().expect("id").to_string();
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    let principal = tenantry::core::privileges::Principal {
        home: std::sync::Arc::new(t.clone()),
        user_id: uid.clone(),
        email: "ops@globex.example".into(),
        api_key_id: None,
    };
    let privileges = || w.app.core.my_privileges(&principal, None);
    let before = privileges().await;
    assert!(
        before.is_err()
            || before
                .as_ref()
                .map(|v| v["org_access"] == "none")
                .unwrap_or(false),
        "{before:?}"
    );
    let (s, g) = w.scim("POST", "/Groups", Some(json!({"schemas": [GROUP], "displayName": "Network Ops", "members": [{"value": uid}]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().expect("id").to_string();
    let p = privileges().await.expect("privileges");
    assert_eq!(p["org_access"], "read-only", "{p}");
    // The user's groups show the membership.
    let (_, v) = w.scim("GET", &format!("/Users/{uid}"), None).await;
    assert_eq!(v["groups"][0]["value"], json!(gid), "{v}");
    // An enrolment link went to the outbox.
    let outbox = w.app.env.dir.path().join("outbox");
    let mails: Vec<String> = std::fs::read_dir(&outbox)
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        mails
            .iter()
            .any(|m| m.contains("ops@globex.example") && m.contains("/enroll/")),
        "{mails:?}"
    );
    // Entra-style removal: the privilege is gone at once.
    let (s, v) = w.scim("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": uid}]}]}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p = privileges().await;
    assert!(
        p.is_err()
            || p.as_ref()
                .map(|v| v["org_access"] == "none")
                .unwrap_or(false),
        "{p:?}"
    );
    // Renaming a group re-evaluates mappings by name.
    let (s, _) = w.scim("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}, {"op": "replace", "path": "displayName", "value": "Other"}]}))).await;
    assert_eq!(s, StatusCode::OK);
    let p = privileges().await;
    assert!(
        p.is_err()
            || p.as_ref()
                .map(|v| v["org_access"] == "none")
                .unwrap_or(false),
        "{p:?}"
    );
    // The audit chain records the SCIM actor.
    let (_, audit, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/audit?limit=500",
            Some(&owner.key),
            None,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"scim.user.create") && actions.contains(&"user.roles_mapped"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn deprovisioning_ends_sessions_and_delete_removes_the_person() {
    let w = world().await;
    let u = w.create_user("leaver@globex.example", json!({})).await;
    let uid = u["id"].as_str().expect("id").to_string();
    let t = w.app.core.find_tenant("globex-acme").await.expect("tenant");
    let (_, cookie) = w
        .app
        .core
        .create_session(&t, &uid, &["hwk"], None)
        .await
        .expect("session");
    assert!(w
        .app
        .core
        .session_from_cookie(&t, &cookie)
        .await
        .expect("lookup")
        .is_some());
    let (s, v) = w.scim("PATCH", &format!("/Users/{uid}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        w.app
            .core
            .session_from_cookie(&t, &cookie)
            .await
            .expect("lookup")
            .is_none(),
        "the session ended"
    );
    let (s, _) = w.scim("DELETE", &format!("/Users/{uid}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let mut conn = w.app.core.store.conn().await.expect("conn");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE id = $1")
        .bind(&uid)
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    assert_eq!(n, 0);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM scim_values WHERE resource_id = $1")
        .bind(&uid)
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn scim_sees_only_users_scim_created() {
    let w = world().await;
    w.app
        .admin(
            "globex-acme",
            "local@globex.example",
            Some(tenantry::authz::OrgAccess::Full),
            vec![],
        )
        .await;
    let (_, v) = w.scim("GET", "/Users", None).await;
    assert_eq!(v["totalResults"], 0, "{v}");
    // POST with the userName (e-mail) of a local user: 409 uniqueness.
    let (s, v) = w
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "local@globex.example"})),
        )
        .await;
    assert_error(s, &v, 409, Some("uniqueness"));
}
