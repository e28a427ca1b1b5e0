//! MSP staff from the MSP's own directory (product.md "Directory and federation"): on the
//! MSP tenant `downco`, a role mapping naming an MSP role and a customer scope makes the
//! users it selects — by a federation claim at sign-in, or by SCIM group membership — MSP
//! staff with that role in the customers in scope, and nowhere else: who-can and explain
//! name the mapped role, token exchange into a customer in scope succeeds with the role's
//! privileges and is refused in a customer out of scope.

use crate::federation::{origin, query, urlenc, world, Browser, World};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tenantry::core::audit::Actor;
use tenantry::core::tenants::NewTenant;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const CB: &str = "https://noc.example.com/cb";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The world of federation.rs plus customers `c1-downco`, `c2-downco`, a super-user key
/// at downco, an MSP client at downco and a token-exchange client in each customer.
pub(crate) struct Msp {
    pub(crate) w: World,
    pub(crate) owner_key: String,
    msp_client: (String, String),
    exchangers: Vec<(String, String)>,
}

pub(crate) async fn user_id(w: &World, tenant: &str, email: &str) -> String {
    let t = w.core.find_tenant(tenant).await.expect("tenant");
    let mut conn = w.core.store.conn().await.expect("conn");
    tenantry::store::users::find_user_by_email(&mut conn, &t.id, email)
        .await
        .expect("query")
        .unwrap_or_else(|| panic!("no user {email}"))
        .id
}

async fn new_client(w: &World, tenant: &str, body: Value) -> (String, String) {
    let t = w.core.find_tenant(tenant).await.expect("tenant");
    let new = serde_json::from_value(body).expect("new client");
    let (c, secret) = w
        .core
        .create_client(&t, new, &Actor::cli(), None)
        .await
        .expect("client");
    (c.id, secret.expect("secret"))
}

pub(crate) async fn msp_world() -> Msp {
    let w = world().await;
    let mut exchangers = Vec::new();
    for name in ["c1", "c2"] {
        w.core
            .create_customer(
                NewTenant {
                    name,
                    display_name: None,
                    admin_email: None,
                },
                "downco",
                &Actor::cli(),
            )
            .await
            .expect("customer");
        let tenant = format!("{name}-downco");
        let grant = "urn:ietf:params:oauth:grant-type:token-exchange";
        let body = json!({"name": "automation", "redirect_uris": [], "grant_types": [grant],
            "scopes": ["openid", "privileges"]});
        exchangers.push(new_client(&w, &tenant, body).await);
    }
    // The MSP's owner is its super-user: only a super-user maps to MSP roles.
    let owner = user_id(&w, "downco", "owner@downco.example").await;
    let down = w.core.find_tenant("downco").await.expect("downco");
    let owner_key = w
        .core
        .create_api_key(&down, &owner, "test", &Actor::cli())
        .await
        .expect("key")
        .key
        .expect("shown once");
    let body = json!({"name": "noc", "redirect_uris": [CB],
        "grant_types": ["authorization_code"], "scopes": ["openid", "privileges"]});
    let msp_client = new_client(&w, "downco", body).await;
    Msp {
        w,
        owner_key,
        msp_client,
        exchangers,
    }
}

pub(crate) fn http(port: u16) -> reqwest::Client {
    let lo = SocketAddr::from(([127, 0, 0, 1], port));
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    for name in ["downco", "c1-downco", "c2-downco"] {
        b = b.resolve(&format!("{name}.localhost"), lo);
    }
    b.build().expect("client")
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&B64.decode(part).expect("b64")).expect("json")
}

impl Msp {
    pub(crate) async fn owner(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.w
            .api("downco", method, path, &self.owner_key, body)
            .await
    }

    /// The id of downco's mapping `name`.
    async fn mapping(&self, name: &str) -> String {
        let (s, v) = self
            .owner("GET", "/api/v1/orgs/downco/role-mappings", Value::Null)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let list = v["items"].as_array().cloned();
        list.unwrap_or_default()
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["id"].as_str())
            .unwrap_or_else(|| panic!("no mapping {name}: {v}"))
            .to_string()
    }

    /// An MSP access token (for `customer`'s issuer) of the user whose downco session
    /// cookie is `session`, exchanged at `customer`: (status, claims or error).
    pub(crate) async fn exchange(&self, session: &str, customer: usize) -> (StatusCode, Value) {
        let port = self.w.port;
        let tenant = ["c1-downco", "c2-downco"][customer];
        let resource = origin(tenant, port);
        let verifier = "w".repeat(50);
        let challenge = B64.encode(sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(verifier.as_bytes()),
        ));
        let url = format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&code_challenge={challenge}&code_challenge_method=S256&resource={}",
            origin("downco", port),
            self.msp_client.0,
            urlenc(CB),
            urlenc(&resource)
        );
        let r = http(port)
            .get(url)
            .header("cookie", format!("tenantry_session={session}"))
            .send()
            .await
            .expect("authorize");
        let loc = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let code = query(&loc)
            .get("code")
            .cloned()
            .unwrap_or_else(|| panic!("no code: {loc}"));
        let r = http(port)
            .post(format!("{}/oauth2/token", origin("downco", port)))
            .basic_auth(&self.msp_client.0, Some(&self.msp_client.1))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .expect("token");
        let v: Value = r.json().await.expect("json");
        let at = v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string();
        let (id, secret) = &self.exchangers[customer];
        let r = http(port)
            .post(format!("{resource}/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", at.as_str()),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("scope", "privileges"),
            ])
            .send()
            .await
            .expect("exchange");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        match v["access_token"].as_str() {
            Some(t) => (status, payload(t)),
            None => (status, v),
        }
    }

    /// Does `user` appear among the holders of `capability` in `customer`, by the mapped
    /// role `mapping`? And what does explain say there.
    async fn holds(&self, customer: &str, user: &str, capability: &str, mapping: &str) -> bool {
        let path = format!("/api/v1/orgs/{customer}/who-can?capability={capability}");
        let (s, v) = self.owner("GET", &path, Value::Null).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let listed = v["admins"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["admin"] == user);
        let path = format!("/api/v1/orgs/{customer}/explain?admin={user}&capability={capability}");
        let (s, e) = self.owner("GET", &path, Value::Null).await;
        match listed {
            Some(a) => {
                let reason = json!({"kind": "mapped_role", "name": mapping});
                assert_eq!(a["reasons"][0]["source"], reason, "{a}");
                assert_eq!((s, &e["held"]), (StatusCode::OK, &json!(true)), "{e}");
                assert_eq!(e["reasons"][0]["source"], reason, "{e}");
                true
            }
            None => {
                assert!(
                    s == StatusCode::NOT_FOUND || e["held"] == json!(false),
                    "{s} {e}"
                );
                false
            }
        }
    }
}

#[tokio::test]
async fn msp_staff_signing_in_through_federation_get_the_mapped_msp_role_in_scope_only() {
    let m = msp_world().await;
    // pat is read-only upstream: the claim org_access=read-only selects fed-readers, which
    // now also names the MSP role observer for customer c1 only.
    let id = m.mapping("fed-readers").await;
    let patch = json!({"msp_role": "observer", "msp_scope": ["c1-downco"]});
    let path = format!("/api/v1/orgs/downco/role-mappings/{id}");
    // Only a super-user maps to MSP roles; an org-full admin is refused.
    let (s, v) =
        m.w.api("downco", "PATCH", &path, &m.w.down_key, patch.clone())
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = m.owner("PATCH", &path, patch).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["msp_scope"], json!(["c1-downco"]), "{v}");

    let mut b = Browser::new(m.w.port);
    let done = m.w.federate(&mut b, None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let session = b.cookies["downco.localhost"]["tenantry_session"].clone();
    let pat = user_id(&m.w, "downco", "pat@corp.example").await;

    assert!(m.holds("c1-downco", &pat, "org.view", "fed-readers").await);
    assert!(!m.holds("c1-downco", &pat, "org.edit", "fed-readers").await);
    assert!(!m.holds("c2-downco", &pat, "org.view", "fed-readers").await);
    let (s, claims) = m.exchange(&session, 0).await;
    assert_eq!(s, StatusCode::OK, "{claims}");
    assert_eq!(claims["tenant"], "c1-downco", "{claims}");
    assert_eq!(claims["org_access"], "read-only", "{claims}");
    let (s, v) = m.exchange(&session, 1).await;
    assert_eq!(
        (s, &v["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
        "{v}"
    );

    // The scope widened to every customer: c2 follows at once.
    let (s, v) = m.owner("PATCH", &path, json!({"msp_scope": "all"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(m.holds("c2-downco", &pat, "org.view", "fed-readers").await);
    let (s, claims) = m.exchange(&session, 1).await;
    assert_eq!(
        (s, &claims["org_access"]),
        (StatusCode::OK, &json!("read-only")),
        "{claims}"
    );

    // Upstream, pat becomes org full: the next sign-in selects fed-owners (no MSP role)
    // and pat is no MSP staff any more.
    let (s, v) =
        m.w.api(
            "upco",
            "PATCH",
            &format!("/api/v1/orgs/upco/admins/{}", m.w.up_membership),
            &m.w.up_key,
            json!({"org_access": "full"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut b = Browser::new(m.w.port);
    let done = m.w.federate(&mut b, None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(!m.holds("c1-downco", &pat, "org.view", "fed-readers").await);
    let (s, v) = m.exchange(&session, 0).await;
    assert_eq!(
        (s, &v["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
        "{v}"
    );
}

#[tokio::test]
async fn msp_staff_from_scim_groups_get_the_mapped_msp_role_in_scope_only() {
    let m = msp_world().await;
    let down = m.w.core.find_tenant("downco").await.expect("downco");
    let token =
        m.w.core
            .create_scim_token(&down, "entra", &Actor::cli(), None)
            .await
            .expect("scim token")
            .token
            .expect("shown once");
    let body = json!({"name": "noc-helpdesk", "bundle": {"org_access": "none"},
        "selectors": [{"kind": "group_name", "value": "NOC Helpdesk"}],
        "msp_role": "helpdesk", "msp_scope": ["c2-downco"]});
    let (s, v) = m
        .owner("POST", "/api/v1/orgs/downco/role-mappings", body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let scim = |method: &str, path: &str, body: Value| {
        let req = http(m.w.port)
            .request(
                method.parse().expect("method"),
                format!("{}/scim/v2{path}", origin("downco", m.w.port)),
            )
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string());
        async move {
            let r = req.send().await.expect("scim");
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, u) = scim(
        "POST",
        "/Users",
        json!({"schemas": [USER], "userName": "sam@corp.example",
            "emails": [{"value": "sam@corp.example", "primary": true}], "active": true}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let sam = u["id"].as_str().expect("id").to_string();
    assert!(
        !m.holds("c2-downco", &sam, "org.users.helpdesk", "noc-helpdesk")
            .await
    );
    let (s, g) = scim(
        "POST",
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "NOC Helpdesk", "members": [{"value": sam}]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert!(
        m.holds("c2-downco", &sam, "org.users.helpdesk", "noc-helpdesk")
            .await
    );
    assert!(!m.holds("c2-downco", &sam, "org.view", "noc-helpdesk").await);
    assert!(
        !m.holds("c1-downco", &sam, "org.users.helpdesk", "noc-helpdesk")
            .await
    );
    let (_, session) =
        m.w.core
            .create_session(&down, &sam, &["webauthn"], None)
            .await
            .expect("session");
    let (s, claims) = m.exchange(&session, 1).await;
    assert_eq!(s, StatusCode::OK, "{claims}");
    assert_eq!(claims["org_roles"], json!(["helpdesk"]), "{claims}");
    assert_eq!(claims["org_access"], "none", "{claims}");
    let (s, v) = m.exchange(&session, 0).await;
    assert_eq!(
        (s, &v["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
        "{v}"
    );

    // Out of the group, out of the role.
    let gid = g["id"].as_str().expect("gid");
    let (s, v) = scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"value": sam}]}]}),
    )
    .await;
    assert!(s.is_success(), "{s} {v}");
    assert!(
        !m.holds("c2-downco", &sam, "org.users.helpdesk", "noc-helpdesk")
            .await
    );
    let (s, v) = m.exchange(&session, 1).await;
    assert_eq!(
        (s, &v["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
        "{v}"
    );

    // A group mapped to super-user: every customer, org full; and org full in the MSP.
    let body = json!({"name": "noc-admins", "selectors": [{"kind": "group_name", "value": "NOC Admins"}],
        "msp_role": "super-user"});
    let (s, v) = m
        .owner("POST", "/api/v1/orgs/downco/role-mappings", body)
        .await;
    assert_eq!(
        (s, &v["msp_scope"]),
        (StatusCode::CREATED, &json!("all")),
        "{v}"
    );
    let (s, g) = scim(
        "POST",
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "NOC Admins", "members": [{"value": sam}]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    for c in ["c1-downco", "c2-downco"] {
        assert!(m.holds(c, &sam, "org.edit", "noc-admins").await, "{c}");
    }
    assert!(m.holds("downco", &sam, "org.edit", "noc-admins").await);
    let (s, claims) = m.exchange(&session, 0).await;
    assert_eq!(
        (s, &claims["org_access"]),
        (StatusCode::OK, &json!("full")),
        "{claims}"
    );
}
