//! MSP staff from the MSP's own directory count wherever assigned staff do: a SCIM user of
//! the MSP `downco` whose group maps to an MSP role has that role in `/me`,
//! `/me/privileges` and the `msp` claim of its tokens, sees the customers in scope (and only
//! those) in the customer list and the portal switcher, can hold an API key, can be
//! delegated to a customer out of scope, and as a mapped super-user cannot be delegated.

use crate::federation::origin;
use crate::federation_msp::{http, msp_world, Msp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tenantry::core::audit::Actor;

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A SCIM client of downco.
struct Scim {
    port: u16,
    token: String,
}

impl Scim {
    async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let r = http(self.port)
            .request(
                method.parse().expect("method"),
                format!("{}/scim/v2{path}", origin("downco", self.port)),
            )
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .expect("scim");
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// A group `name` with `member`; its id.
    async fn group(&self, name: &str, member: &str) -> String {
        let body = json!({"schemas": [GROUP], "displayName": name, "members": [{"value": member}]});
        let (s, g) = self.call("POST", "/Groups", body).await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        g["id"].as_str().expect("gid").to_string()
    }
}

async fn mapping(m: &Msp, name: &str, group: &str, role: &str, scope: Value) {
    let body = json!({"name": name, "bundle": {"org_access": "none"},
        "selectors": [{"kind": "group_name", "value": group}],
        "msp_role": role, "msp_scope": scope});
    let (s, v) = m
        .owner("POST", "/api/v1/orgs/downco/role-mappings", body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn mapped_msp_staff_have_their_role_in_me_claims_customer_list_and_switcher() {
    let m = msp_world().await;
    let down = m.w.core.find_tenant("downco").await.expect("downco");
    let token =
        m.w.core
            .create_scim_token(&down, "entra", &Actor::cli(), None)
            .await
            .expect("scim token")
            .token
            .expect("shown once");
    let scim = Scim {
        port: m.w.port,
        token,
    };
    mapping(
        &m,
        "noc-observers",
        "NOC Observers",
        "observer",
        json!(["c2-downco"]),
    )
    .await;
    mapping(&m, "noc-admins", "NOC Admins", "super-user", json!("all")).await;
    let body = json!({"schemas": [USER], "userName": "sam@corp.example",
        "emails": [{"value": "sam@corp.example", "primary": true}], "active": true});
    let (s, u) = scim.call("POST", "/Users", body).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let sam = u["id"].as_str().expect("id").to_string();

    // Not yet in a group: no staff, no API key.
    let refused =
        m.w.core
            .create_api_key(&down, &sam, "t", &Actor::cli())
            .await;
    assert!(refused.is_err(), "a plain user holds no API key");
    scim.group("NOC Observers", &sam).await;
    let key =
        m.w.core
            .create_api_key(&down, &sam, "t", &Actor::cli())
            .await
            .expect("mapped staff hold API keys")
            .key
            .expect("shown once");
    let api = |path: &'static str| m.w.api("downco", "GET", path, &key, Value::Null);

    let (s, me) = api("/api/v1/me").await;
    assert_eq!(
        (s, &me["msp_role"]),
        (StatusCode::OK, &json!("observer")),
        "{me}"
    );
    let (s, v) = api("/api/v1/customers").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["c2-downco"], "{v}");
    let (s, p) = api("/api/v1/me/privileges?org=c2-downco").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        p["msp"],
        json!({"tenant": "downco", "role": "observer"}),
        "{p}"
    );
    assert_eq!(p["org_access"], "read-only", "{p}");
    let (s, p) = api("/api/v1/me/privileges?org=c1-downco").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{p}");

    // The portal's switcher lists c2 only.
    let (_, session) =
        m.w.core
            .create_session(&down, &sam, &["webauthn"], None)
            .await
            .expect("session");
    let page = http(m.w.port)
        .get(format!("{}/portal/customers", origin("downco", m.w.port)))
        .header("cookie", format!("tenantry_session={session}"))
        .send()
        .await
        .expect("portal");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("c2-downco.localhost"), "switcher: {html}");
    assert!(!html.contains("c1-downco.localhost"), "switcher: {html}");

    // The customer token names the MSP role.
    let (s, claims) = m.exchange(&session, 1).await;
    assert_eq!(s, StatusCode::OK, "{claims}");
    assert_eq!(
        claims["msp"],
        json!({"tenant": "downco", "role": "observer"})
    );

    // Out of scope in c1, mapped staff can be delegated there (by the super-user owner).
    let (s, v) = m
        .owner(
            "POST",
            "/api/v1/orgs/c1-downco/delegations",
            json!({"msp_user": "sam@corp.example"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api("/api/v1/customers").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["c1-downco", "c2-downco"], "{v}");

    // Mapped to super-user as well: the widest role names the claim, every customer is
    // listed, and a super-user is never delegated.
    scim.group("NOC Admins", &sam).await;
    let (_, me) = api("/api/v1/me").await;
    assert_eq!(me["msp_role"], "super-user", "{me}");
    let (s, claims) = m.exchange(&session, 0).await;
    assert_eq!(s, StatusCode::OK, "{claims}");
    assert_eq!(claims["msp"]["role"], "super-user", "{claims}");
    let (s, v) = m
        .owner(
            "POST",
            "/api/v1/orgs/c2-downco/delegations",
            json!({"msp_user": "sam@corp.example"}),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::CONFLICT, &json!("super_user_not_delegable")),
        "{v}"
    );
}
