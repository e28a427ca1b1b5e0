//! The OpenID Connect provider: a real relying party (the `openidconnect` crate) performs
//! discovery, code + PKCE, ID-token verification, userinfo and refresh; raw HTTP covers
//! every error path. Requests reach `router(state)` in-process through the RP's own
//! pluggable HTTP client, so `*.localhost` needs no resolver.

use crate::support::{test_app, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;
use tenantry::core::audit::Actor;
use tenantry::core::clients::NewClient;
use tower::ServiceExt;

const HOST: &str = "globex-acme.localhost:8080";
const ISS: &str = "http://globex-acme.localhost:8080";
const CB: &str = "https://app.example.com/cb";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

struct World {
    app: TestApp,
    client_id: String,
    secret: String,
    user_id: String,
    cookie: String,
}

fn new_client(name: &str, public: bool, grants: &[&str], admin_api: bool) -> NewClient {
    let mut scopes = vec!["openid", "profile", "email", "offline_access", "privileges"];
    if admin_api {
        scopes.push("admin");
    }
    serde_json::from_value(json!({
        "name": name,
        "public": public,
        "redirect_uris": [CB],
        "post_logout_redirect_uris": ["https://app.example.com/bye"],
        "grant_types": grants,
        "scopes": scopes,
        "admin_api": admin_api,
    }))
    .expect("new client")
}

async fn world() -> World {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.core
        .create_network("globex-acme", "HQ", &["hq".into()], &Actor::cli())
        .await
        .expect("network");
    let admin = app
        .admin(
            "globex-acme",
            "pat@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let t = app.core.find_tenant("globex-acme").await.expect("tenant");
    let (client, secret) = app
        .core
        .create_client(
            &t,
            new_client(
                "portal",
                false,
                &["authorization_code", "refresh_token", "client_credentials"],
                true,
            ),
            &Actor::cli(),
            None,
        )
        .await
        .expect("client");
    let (_, cookie) = app
        .core
        .create_session(&t, &admin.user_id, &["webauthn"], None)
        .await
        .expect("session");
    World {
        app,
        client_id: client.id,
        secret: secret.expect("secret"),
        user_id: admin.user_id,
        cookie,
    }
}

/// The RP's HTTP client: each request goes through the router with its URL's host.
fn rp_http(
    app: &TestApp,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<openidconnect::HttpResponse, std::io::Error>>
            + Send,
    >,
> + Clone {
    let state = app.state.clone();
    move |req: openidconnect::HttpRequest| {
        let state = state.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let host = parts
                .uri
                .authority()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let mut builder = Request::builder()
                .method(parts.method.as_str())
                .uri(path)
                .header("host", host);
            for (k, v) in &parts.headers {
                builder = builder.header(k.as_str(), v.as_bytes());
            }
            let r = builder
                .body(Body::from(body))
                .map_err(std::io::Error::other)?;
            let resp = tenantry::app::router(state)
                .oneshot(r)
                .await
                .map_err(std::io::Error::other)?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(std::io::Error::other)?
                .to_bytes()
                .to_vec();
            let mut out = openidconnect::http::Response::builder().status(status);
            for (k, v) in &headers {
                out = out.header(k.as_str(), v.as_bytes());
            }
            out.body(bytes).map_err(std::io::Error::other)
        })
    }
}

/// GET the authorize URL with the session cookie; returns the Location's query pairs.
async fn authorize(
    app: &TestApp,
    url: &str,
    cookie: Option<&str>,
) -> (StatusCode, std::collections::HashMap<String, String>) {
    let u = url::Url::parse(url).expect("url");
    let mut req = Request::get(format!("{}?{}", u.path(), u.query().unwrap_or_default()))
        .header("host", HOST);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("tenantry_session={c}"));
    }
    let r = app.request(req.body(Body::empty()).expect("req")).await;
    let loc = r
        .headers
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let pairs = url::Url::parse(&loc)
        .or_else(|_| url::Url::parse(&format!("{ISS}{loc}")))
        .map(|l| l.query_pairs().into_owned().collect())
        .unwrap_or_default();
    (r.status, pairs)
}

async fn form_post(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = Request::post(path)
        .header("host", HOST)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
            ),
        );
    }
    let r = app.request(req.body(Body::from(body)).expect("req")).await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

fn pkce() -> (String, String) {
    let verifier = tenantry::ids::credential("")[..43]
        .to_string()
        .replace(['-', '_'], "a");
    let challenge = B64.encode(sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(verifier.as_bytes()),
    ));
    (verifier, challenge)
}

async fn code_for(w: &World, client_id: &str, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = format!(
        "{ISS}/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        urlenc(CB),
        urlenc(scope)
    );
    let (status, q) = authorize(&w.app, &url, Some(&w.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{q:?}");
    assert_eq!(q.get("iss").map(String::as_str), Some(ISS), "RFC 9207 iss");
    assert_eq!(q.get("state").map(String::as_str), Some("s1"));
    (
        q.get("code")
            .cloned()
            .unwrap_or_else(|| panic!("no code: {q:?}")),
        verifier,
    )
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_real_relying_party_signs_in_with_code_and_pkce() {
    let w = world().await;
    let http = rp_http(&w.app);
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(ISS.into()).expect("iss"), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(w.client_id.clone()),
        Some(ClientSecret::new(w.secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.into()).expect("cb"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("privileges".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (_, q) = authorize(&w.app, url.as_str(), Some(&w.cookie)).await;
    assert_eq!(q.get("state"), Some(csrf.secret()));
    let code = q.get("code").expect("code").clone();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token response");
    let id_token = tokens.id_token().expect("id token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), w.user_id);
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("pat@globex.example")
    );
    // Privilege claims ride along under the privileges scope.
    let payload: Value = serde_json::from_slice(
        &B64.decode(id_token.to_string().split('.').nth(1).expect("payload"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(payload["tenant"], "globex-acme");
    assert_eq!(payload["org_access"], "read-only");
    assert_eq!(payload["networks"].as_object().map(|m| m.len()), Some(1));
    assert_eq!(payload["amr"], json!(["webauthn"]));

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .expect("userinfo endpoint")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), w.user_id);

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("refresh token"))
        .expect("token endpoint")
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().map(|r| r.secret()),
        tokens.refresh_token().map(|r| r.secret()),
        "rotated"
    );
    // The old refresh token is now a reuse: refused, and its family (the new one too) dies.
    let reused = client
        .exchange_refresh_token(&RefreshToken::new(
            tokens.refresh_token().expect("rt").secret().clone(),
        ))
        .expect("token endpoint")
        .request_async(&http)
        .await;
    assert!(reused.is_err());
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&w.client_id, &w.secret)),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed.refresh_token().expect("rt").secret(),
            ),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // ...and the access tokens of that family are revoked.
    let (s, v) = form_post(
        &w.app,
        "/oauth2/introspect",
        Some((&w.client_id, &w.secret)),
        &[("token", refreshed.access_token().secret())],
    )
    .await;
    assert_eq!((s, v["active"].as_bool()), (StatusCode::OK, Some(false)));
}

#[tokio::test]
async fn discovery_and_jwks_are_complete_and_cacheable() {
    let w = world().await;
    let r = w.app.get(HOST, "/.well-known/openid-configuration").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    let d: Value = serde_json::from_str(&r.body).expect("json");
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "code_challenge_methods_supported",
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ] {
        assert!(!d[field].is_null(), "{field}");
    }
    assert_eq!(d["issuer"], ISS);
    assert!(d["id_token_signing_alg_values_supported"]
        .as_array()
        .expect("algs")
        .contains(&json!("RS256")));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    let j = w.app.get(HOST, "/.well-known/jwks.json").await;
    let keys: Value = serde_json::from_str(&j.body).expect("jwks");
    let algs: Vec<&str> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    assert!(
        algs.contains(&"ES256") && algs.contains(&"RS256") && algs.contains(&"EdDSA"),
        "{algs:?}"
    );
    assert!(!j.body.contains("\"d\""), "no private parts");
    // Another tenant has its own keys.
    let other = w
        .app
        .get("acme.localhost:8080", "/.well-known/jwks.json")
        .await;
    let theirs: Value = serde_json::from_str(&other.body).expect("jwks");
    let kids = |v: &Value| {
        v["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].clone())
            .collect::<Vec<_>>()
    };
    assert!(kids(&keys).iter().all(|k| !kids(&theirs).contains(k)));
}

#[tokio::test]
async fn every_token_endpoint_error_path_is_refused() {
    let w = world().await;
    let cid = w.client_id.clone();
    let (code, verifier) = code_for(&w, &cid, "openid").await;
    // Wrong secret.
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, "tnt_cs_wrong")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // Wrong redirect URI.
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example.com/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The code was consumed by that attempt: single use.
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Missing and wrong PKCE verifier.
    let (code, _) = code_for(&w, &cid, "openid").await;
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (code, _) = code_for(&w, &cid, "openid").await;
    let (other_verifier, _) = pkce();
    let (s, _) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &other_verifier),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A good exchange works, then reusing its code fails.
    let (code, verifier) = code_for(&w, &cid, "openid").await;
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Unknown grant type, repeated parameters.
    let (_, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[("grant_type", "password")],
    )
    .await;
    assert!(
        matches!(
            v["error"].as_str(),
            Some("unauthorized_client" | "unsupported_grant_type")
        ),
        "{v}"
    );
    let (_, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&cid, &w.secret)),
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(v["error"], "invalid_request");
}

#[tokio::test]
async fn authorize_refuses_bad_requests_without_or_with_redirecting() {
    let w = world().await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let (public, _) = w
        .app
        .core
        .create_client(
            &t,
            new_client("spa", true, &["authorization_code"], false),
            &Actor::cli(),
            None,
        )
        .await
        .expect("public client");
    let base = format!("{ISS}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=x", public.id, urlenc(CB));
    // No PKCE for a public client: back to the client with invalid_request.
    let (s, q) = authorize(&w.app, &base, Some(&w.cookie)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    // PKCE plain is refused.
    let (s, q) = authorize(
        &w.app,
        &format!(
            "{base}&code_challenge={}&code_challenge_method=plain",
            "a".repeat(43)
        ),
        Some(&w.cookie),
    )
    .await;
    assert_eq!(
        (s, q.get("error").map(String::as_str)),
        (StatusCode::SEE_OTHER, Some("invalid_request"))
    );
    // A redirect URI that is not registered exactly: shown, never redirected.
    let r = w
        .app
        .get(
            HOST,
            &format!(
                "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid",
                public.id,
                urlenc("https://app.example.com/cb/")
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.headers.contains_key("location"));
    // No session: the request waits server-side and the browser goes to /login.
    let (_, challenge) = pkce();
    let url = format!("{base}&code_challenge={challenge}&code_challenge_method=S256");
    let u = url::Url::parse(&url).expect("url");
    let r = w
        .app
        .get(
            HOST,
            &format!("{}?{}", u.path(), u.query().unwrap_or_default()),
        )
        .await;
    let loc = r
        .headers
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(loc.starts_with("/login?pending="), "{loc}");
    // After sign-in the stored request resumes and yields a code.
    let pending = loc.trim_start_matches("/login?pending=");
    let (s, q) = authorize(
        &w.app,
        &format!("{ISS}/oauth2/authorize?pending={pending}"),
        Some(&w.cookie),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(q.contains_key("code"), "{q:?}");
    // prompt=none without a session.
    let (s, q) = authorize(&w.app, &format!("{url}&prompt=none"), None).await;
    assert_eq!(
        (s, q.get("error").map(String::as_str)),
        (StatusCode::SEE_OTHER, Some("login_required"))
    );
}

/// An access token for the portal client with the admin scope.
async fn access_token(w: &World, scope: &str) -> String {
    let (code, verifier) = code_for(w, &w.client_id.clone(), scope).await;
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&w.client_id, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["access_token"].as_str().expect("at").to_string()
}

#[tokio::test]
async fn tokens_of_one_tenant_never_work_at_another_and_forgeries_fail() {
    let w = world().await;
    let at = access_token(&w, "openid privileges").await;
    let userinfo = |host: &'static str, token: String| {
        let app = &w.app;
        async move {
            let req = Request::get("/oauth2/userinfo")
                .header("host", host)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("req");
            app.request(req).await.status
        }
    };
    assert_eq!(userinfo(HOST, at.clone()).await, StatusCode::OK);
    w.app.customer("initech", "acme", "Initech").await;
    assert_eq!(
        userinfo("initech-acme.localhost:8080", at.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let (s, v) = form_post(
        &w.app,
        "/oauth2/introspect",
        Some((&w.client_id, &w.secret)),
        &[("token", &at)],
    )
    .await;
    assert_eq!(
        (s, v["active"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );

    let parts: Vec<&str> = at.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).expect("b64")).expect("json");
    let forge = |h: Value, sig: &str| format!("{}.{}.{sig}", B64.encode(h.to_string()), parts[1]);
    // alg none.
    assert_eq!(
        userinfo(
            HOST,
            forge(
                json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}),
                ""
            )
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    // HS256 keyed with the public key (the classic confusion).
    let jwks: Value =
        serde_json::from_str(&w.app.get(HOST, "/.well-known/jwks.json").await.body).expect("jwks");
    let public = jwks["keys"][0].to_string();
    let h = json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]});
    let input = format!("{}.{}", B64.encode(h.to_string()), parts[1]);
    let mac = {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(public.as_bytes()).expect("hmac");
        m.update(input.as_bytes());
        B64.encode(m.finalize().into_bytes())
    };
    assert_eq!(
        userinfo(HOST, format!("{input}.{mac}")).await,
        StatusCode::UNAUTHORIZED
    );
    // A foreign kid, and an embedded jwk header.
    assert_eq!(
        userinfo(
            HOST,
            forge(
                json!({"alg": "ES256", "typ": "at+jwt", "kid": "sig_other"}),
                parts[2]
            )
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(userinfo(HOST, forge(json!({"alg": "ES256", "typ": "at+jwt", "kid": header["kid"], "jwk": jwks["keys"][0]}), parts[2])).await, StatusCode::UNAUTHORIZED);
    // A tampered payload.
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(b"{\"sub\":\"usr_x\"}"),
        parts[2]
    );
    assert_eq!(userinfo(HOST, tampered).await, StatusCode::UNAUTHORIZED);

    // Revocation puts the jti on the list.
    let (s, _) = form_post(
        &w.app,
        "/oauth2/revoke",
        Some((&w.client_id, &w.secret)),
        &[("token", &at)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(userinfo(HOST, at.clone()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_credentials_and_introspection_by_the_right_client_only() {
    let w = world().await;
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&w.client_id, &w.secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "privileges"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let at = v["access_token"].as_str().expect("at").to_string();
    assert_eq!(v["token_type"], "Bearer");
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let (other, other_secret) = w
        .app
        .core
        .create_client(
            &t,
            new_client("other", false, &["client_credentials"], false),
            &Actor::cli(),
            None,
        )
        .await
        .expect("client");
    let other_secret = other_secret.expect("secret");
    let (_, v) = form_post(
        &w.app,
        "/oauth2/introspect",
        Some((&other.id, &other_secret)),
        &[("token", &at)],
    )
    .await;
    assert_eq!(v["active"], false, "another client learns nothing");
    let (_, v) = form_post(
        &w.app,
        "/oauth2/introspect",
        Some((&w.client_id, &w.secret)),
        &[("token", &at)],
    )
    .await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], w.client_id.as_str());
    let (s, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&w.client_id, &w.secret)),
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
}

#[tokio::test]
async fn the_admin_api_accepts_this_tenants_admin_tokens() {
    let w = world().await;
    let at = access_token(&w, "openid admin").await;
    let (s, v, _) = w.app.api("GET", HOST, "/api/v1/me", Some(&at), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["email"], "pat@globex.example");
    let (s, _, _) = w
        .app
        .api(
            "GET",
            HOST,
            "/api/v1/orgs/globex-acme/networks",
            Some(&at),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Without the admin scope the token is not an admin API credential.
    let plain = access_token(&w, "openid").await;
    let (s, _, _) = w
        .app
        .api("GET", HOST, "/api/v1/me", Some(&plain), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotated_keys_keep_old_tokens_valid_and_publish_both() {
    let w = world().await;
    let at = access_token(&w, "openid").await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let before: Value =
        serde_json::from_str(&w.app.get(HOST, "/.well-known/jwks.json").await.body).expect("jwks");
    w.app.core.rotate_keys(&t, true).await.expect("rotate");
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let _ = w.app.core.tenant_keys(&t).await.expect("keys");
    w.app.clock.advance(6);
    let after: Value =
        serde_json::from_str(&w.app.get(HOST, "/.well-known/jwks.json").await.body).expect("jwks");
    assert_eq!(
        after["keys"].as_array().map(Vec::len),
        before["keys"].as_array().map(|k| k.len() * 2),
        "old and new keys published"
    );
    let (_, v) = form_post(
        &w.app,
        "/oauth2/introspect",
        Some((&w.client_id, &w.secret)),
        &[("token", &at)],
    )
    .await;
    assert_eq!(
        v["active"], true,
        "a token signed before rotation still verifies"
    );
    let fresh = access_token(&w, "openid").await;
    let kid = |tok: &str| -> Value {
        serde_json::from_slice::<Value>(
            &B64.decode(tok.split('.').next().expect("h")).expect("b64"),
        )
        .expect("json")["kid"]
            .clone()
    };
    assert_ne!(kid(&at), kid(&fresh), "new tokens use the new key");
    // Once the old key's tokens have expired it leaves the JWKS.
    w.app
        .clock
        .advance(tenantry::core::signing::RETIRED_PUBLISHED + 1);
    let later: Value =
        serde_json::from_str(&w.app.get(HOST, "/.well-known/jwks.json").await.body).expect("jwks");
    assert_eq!(
        later["keys"].as_array().map(Vec::len),
        before["keys"].as_array().map(Vec::len)
    );
}

#[tokio::test]
async fn logout_ends_the_session_and_returns_to_a_registered_uri() {
    let w = world().await;
    let (code, verifier) = code_for(&w, &w.client_id.clone(), "openid").await;
    let (_, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&w.client_id, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let id_token = v["id_token"].as_str().expect("id token").to_string();
    let path = format!(
        "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=z",
        urlenc("https://app.example.com/bye")
    );
    let req = Request::get(path)
        .header("host", HOST)
        .header("cookie", format!("tenantry_session={}", w.cookie))
        .body(Body::empty())
        .expect("req");
    let r = w.app.request(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "https://app.example.com/bye?state=z");
    // The session is gone: authorize now asks for sign-in.
    let (_, challenge) = pkce();
    let url = format!("{ISS}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&code_challenge={challenge}&code_challenge_method=S256", w.client_id, urlenc(CB));
    let u = url::Url::parse(&url).expect("url");
    let req = Request::get(format!("{}?{}", u.path(), u.query().unwrap_or_default()))
        .header("host", HOST)
        .header("cookie", format!("tenantry_session={}", w.cookie))
        .body(Body::empty())
        .expect("req");
    let r = w.app.request(req).await;
    assert!(r.headers["location"]
        .to_str()
        .unwrap_or("")
        .starts_with("/login?pending="));
}

/// An MSP client and a customer client that may exchange tokens, and the MSP boss's session.
struct MspWorld {
    w: World,
    msp_client: String,
    msp_secret: String,
    boss: String,
    boss_cookie: String,
    exchanger: String,
    exchanger_secret: String,
}

async fn msp_world() -> MspWorld {
    let w = world().await;
    let acme = w.app.core.find_tenant("acme").await.expect("acme");
    let (mc, ms) = w
        .app
        .core
        .create_client(
            &acme,
            new_client("noc", false, &["authorization_code"], false),
            &Actor::cli(),
            None,
        )
        .await
        .expect("msp client");
    let boss = {
        let mut conn = w.app.core.store.conn().await.expect("conn");
        tenantry::store::users::find_user_by_email(&mut conn, &acme.id, "boss@acme.example")
            .await
            .expect("q")
            .expect("boss")
            .id
    };
    let (_, boss_cookie) = w
        .app
        .core
        .create_session(&acme, &boss, &["webauthn"], None)
        .await
        .expect("session");
    let globex = w.app.core.find_tenant("globex-acme").await.expect("t");
    let (ex, exs) = w
        .app
        .core
        .create_client(
            &globex,
            new_client(
                "automation",
                false,
                &["urn:ietf:params:oauth:grant-type:token-exchange"],
                false,
            ),
            &Actor::cli(),
            None,
        )
        .await
        .expect("exchanger");
    MspWorld {
        w,
        msp_client: mc.id,
        msp_secret: ms.expect("secret"),
        boss,
        boss_cookie,
        exchanger: ex.id,
        exchanger_secret: exs.expect("secret"),
    }
}

/// An MSP access token for the boss with `resource` = the customer's issuer.
async fn msp_token(m: &MspWorld, resource: &str) -> String {
    msp_token_as(m, &m.boss_cookie, resource).await
}

async fn msp_token_as(m: &MspWorld, cookie: &str, resource: &str) -> String {
    let (verifier, challenge) = pkce();
    let path = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&code_challenge={challenge}&code_challenge_method=S256&resource={}",
        m.msp_client, urlenc(CB), urlenc(resource)
    );
    let req = Request::get(path)
        .header("host", "acme.localhost:8080")
        .header("cookie", format!("tenantry_session={cookie}"))
        .body(Body::empty())
        .expect("req");
    let r = m.w.app.request(req).await;
    let loc = r.headers["location"].to_str().expect("loc").to_string();
    let code = url::Url::parse(&loc)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .expect("code");
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ])
        .finish();
    let req = Request::post("/oauth2/token")
        .header("host", "acme.localhost:8080")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", m.msp_client, m.msp_secret))
            ),
        )
        .body(Body::from(body))
        .expect("req");
    let r = m.w.app.request(req).await;
    let v: Value = serde_json::from_str(&r.body).expect("json");
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

async fn exchange(m: &MspWorld, subject_token: &str) -> (StatusCode, Value) {
    form_post(
        &m.w.app,
        "/oauth2/token",
        Some((&m.exchanger, &m.exchanger_secret)),
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", "privileges"),
        ],
    )
    .await
}

#[tokio::test]
async fn token_exchange_turns_an_msp_token_into_a_customer_token_with_act() {
    let m = msp_world().await;
    let at = msp_token(&m, ISS).await;
    let (s, v) = exchange(&m, &at).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert!(
        v["expires_in"].as_i64().unwrap_or(999) <= 300,
        "act tokens live 5 minutes"
    );
    let claims: Value = serde_json::from_slice(
        &B64.decode(
            v["access_token"]
                .as_str()
                .expect("at")
                .split('.')
                .nth(1)
                .expect("p"),
        )
        .expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["iss"], ISS);
    assert_eq!(
        claims["act"],
        json!({"iss": "http://acme.localhost:8080", "sub": m.boss})
    );
    assert!(
        claims["sub"].as_str().unwrap_or("").starts_with("msp_"),
        "a customer-side identity: {claims}"
    );
    assert_eq!(
        claims["org_access"], "full",
        "a super-user owns the customer"
    );
    assert_eq!(claims["msp"]["role"], "super-user");
    // No chaining: the exchanged token cannot be exchanged again.
    let (s, v) = exchange(&m, v["access_token"].as_str().expect("at")).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A token meant for another audience is refused.
    let other = msp_token(&m, "https://elsewhere.example").await;
    let (_, v) = exchange(&m, &other).await;
    assert_eq!(v["error"], "invalid_grant");
    // A token of the customer itself, or of another MSP, is refused.
    let own = access_token(&m.w, "openid").await;
    let (_, v) = exchange(&m, &own).await;
    assert_eq!(v["error"], "invalid_grant");
}

#[tokio::test]
async fn msp_staff_switch_into_a_customer_without_a_second_sign_in() {
    let m = msp_world().await;
    let r = m.w.app.get(HOST, "/switch/start?to=globex-acme").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let switch_cookie = r.headers["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("kv")
        .to_string();
    let to_msp = url::Url::parse(r.headers["location"].to_str().expect("loc")).expect("url");
    assert_eq!(to_msp.host_str(), Some("acme.localhost"));
    // The MSP's existing session answers at once.
    let req = Request::get(format!(
        "{}?{}",
        to_msp.path(),
        to_msp.query().unwrap_or_default()
    ))
    .header("host", "acme.localhost:8080")
    .header("cookie", format!("tenantry_session={}", m.boss_cookie))
    .body(Body::empty())
    .expect("req");
    let r = m.w.app.request(req).await;
    let back = url::Url::parse(r.headers["location"].to_str().expect("loc")).expect("url");
    assert_eq!(back.host_str(), Some("globex-acme.localhost"), "{back}");
    let req = Request::get(format!(
        "{}?{}",
        back.path(),
        back.query().unwrap_or_default()
    ))
    .header("host", HOST)
    .header("cookie", switch_cookie)
    .body(Body::empty())
    .expect("req");
    let r = m.w.app.request(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let session = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("tenantry_session="))
        .expect("session cookie")
        .to_string();
    let secret = session
        .trim_start_matches("tenantry_session=")
        .split(';')
        .next()
        .expect("v")
        .to_string();
    // That customer session now yields ID tokens carrying act.
    let w2 = World {
        app: m.w.app,
        client_id: m.w.client_id.clone(),
        secret: m.w.secret.clone(),
        user_id: String::new(),
        cookie: secret,
    };
    let (code, verifier) = code_for(&w2, &w2.client_id.clone(), "openid privileges").await;
    let (s, v) = form_post(
        &w2.app,
        "/oauth2/token",
        Some((&w2.client_id, &w2.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id: Value = serde_json::from_slice(
        &B64.decode(
            v["id_token"]
                .as_str()
                .expect("id")
                .split('.')
                .nth(1)
                .expect("p"),
        )
        .expect("b64"),
    )
    .expect("json");
    assert_eq!(id["act"]["sub"], m.boss.as_str());
    assert_eq!(id["org_access"], "full");
    // The customer's log shows who came in from where.
    let t = w2.app.core.find_tenant("globex-acme").await.expect("t");
    let mut conn = w2.app.core.store.conn().await.expect("conn");
    let entries = tenantry::store::audit::entries(&mut conn, &t.id)
        .await
        .expect("entries");
    assert!(entries
        .iter()
        .any(|e| e.action == "msp.switch_in" && e.actor_msp.as_deref() == Some("acme")));
    // A switch without the state cookie is refused.
    let r = w2.app.get(HOST, "/switch/callback?code=x&state=y").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn removing_an_admin_ends_their_sessions_and_tokens_everywhere() {
    let w = world().await;
    let at = access_token(&w, "openid privileges").await;
    let owner = w
        .app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    // The sessions API lists the admin's session; its owner may end it.
    let (s, v, _) = w
        .app
        .api(
            "GET",
            HOST,
            "/api/v1/orgs/globex-acme/sessions",
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|x| x["user_id"] == w.user_id.as_str()));
    // Removing the admin (rule 3 through the API) ends sessions and revokes tokens.
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let pat = {
        let mut conn = w.app.core.store.conn().await.expect("conn");
        tenantry::store::privileges::membership_of_user(&mut conn, &t.id, &w.user_id)
            .await
            .expect("q")
            .expect("m")
            .id
    };
    let (s, v, _) = w
        .app
        .api(
            "DELETE",
            HOST,
            &format!("/api/v1/orgs/globex-acme/admins/{pat}"),
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = form_post(
        &w.app,
        "/oauth2/introspect",
        Some((&w.client_id, &w.secret)),
        &[("token", &at)],
    )
    .await;
    assert_eq!(
        v["active"], false,
        "the access token is on the revocation list"
    );
    assert!(
        w.app
            .core
            .session_from_cookie(&t, &w.cookie)
            .await
            .expect("q")
            .is_none(),
        "the session ended"
    );
}

#[tokio::test]
async fn keys_rotate_from_the_command_line_and_the_api() {
    let env = crate::support::TestEnv::new().await;
    let run = |args: &[&str]| {
        let out = env.command().args(args).output().expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    run(&["msp", "create", "acme", "--admin-email", "a@acme.example"]);
    let v = run(&["keys", "rotate", "--tenant", "acme", "--now"]);
    assert_eq!(
        v["keys"].as_array().map(Vec::len),
        Some(3),
        "one per algorithm: {v}"
    );
    let w = world().await;
    let owner = w
        .app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let reader = w
        .app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    let (s, _, _) = w
        .app
        .api(
            "POST",
            HOST,
            "/api/v1/orgs/globex-acme/keys/rotate",
            Some(&reader.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v, _) = w
        .app
        .api(
            "POST",
            HOST,
            "/api/v1/orgs/globex-acme/keys/rotate?immediate=true",
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn token_exchange_follows_delegations_and_refuses_without_access() {
    let m = msp_world().await;
    let acme = m.w.app.core.find_tenant("acme").await.expect("acme");
    let globex =
        m.w.app
            .core
            .find_tenant("globex-acme")
            .await
            .expect("globex");
    let tech =
        m.w.app
            .admin(
                "acme",
                "tech@acme.example",
                Some(OrgAccess::ReadOnly),
                vec![],
            )
            .await;
    let (_, tech_cookie) =
        m.w.app
            .core
            .create_session(&acme, &tech.user_id, &["webauthn"], None)
            .await
            .expect("session");
    // No role, no delegation: nothing in the customer.
    let at = msp_token_as(&m, &tech_cookie, ISS).await;
    let (_, v) = exchange(&m, &at).await;
    assert_eq!(v["error"], "invalid_grant", "{v}");
    // An approved delegation with an expiry.
    let pool = m.w.app.core.store.pool();
    let expires = crate::support::T0 + 3600;
    sqlx::query("INSERT INTO delegations (tenant_id, id, msp_tenant_id, msp_user_id, bundle, state, expires_at, created_by, created_at) VALUES ($1, 'del_t', $2, $3, '{}', 'approved', $4, 'cli', $5)")
        .bind(globex.id.as_str()).bind(acme.id.as_str()).bind(&tech.user_id).bind(expires).bind(crate::support::T0)
        .execute(pool).await.expect("delegation");
    let at = msp_token_as(&m, &tech_cookie, ISS).await;
    let (s, v) = exchange(&m, &at).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let claims: Value = serde_json::from_slice(
        &B64.decode(
            v["access_token"]
                .as_str()
                .expect("at")
                .split('.')
                .nth(1)
                .expect("p"),
        )
        .expect("b64"),
    )
    .expect("json");
    assert_eq!(
        claims["org_access"], "full",
        "a delegation without a bundle is org full"
    );
    // Revoked: refused.
    sqlx::query("UPDATE delegations SET state = 'revoked' WHERE id = 'del_t'")
        .execute(pool)
        .await
        .expect("revoke");
    let (_, v) = exchange(&m, &at).await;
    assert_eq!(v["error"], "invalid_grant");
    // Expired: refused.
    sqlx::query("UPDATE delegations SET state = 'approved' WHERE id = 'del_t'")
        .execute(pool)
        .await
        .expect("restore");
    m.w.app.clock.advance(3600);
    let (_, tech_cookie) =
        m.w.app
            .core
            .create_session(&acme, &tech.user_id, &["webauthn"], None)
            .await
            .expect("session");
    let at = msp_token_as(&m, &tech_cookie, ISS).await;
    let (_, v) = exchange(&m, &at).await;
    assert_eq!(v["error"], "invalid_grant", "the delegation expired");
}

#[tokio::test]
async fn large_organizations_get_networks_ref_instead_of_networks() {
    let w = world().await;
    let t = w.app.core.find_tenant("globex-acme").await.expect("t");
    let pool = w.app.core.store.pool();
    for i in 0..201 {
        sqlx::query(
            "INSERT INTO networks (tenant_id, id, name, created_at) VALUES ($1, $2, $3, 1)",
        )
        .bind(t.id.as_str())
        .bind(format!("net_bulk{i:04}"))
        .bind(format!("bulk {i}"))
        .execute(pool)
        .await
        .expect("network");
    }
    let (code, verifier) = code_for(&w, &w.client_id.clone(), "openid privileges").await;
    let (_, v) = form_post(
        &w.app,
        "/oauth2/token",
        Some((&w.client_id, &w.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let id: Value = serde_json::from_slice(
        &B64.decode(
            v["id_token"]
                .as_str()
                .expect("id")
                .split('.')
                .nth(1)
                .expect("p"),
        )
        .expect("b64"),
    )
    .expect("json");
    assert!(id.get("networks").is_none(), "{id}");
    assert_eq!(id["networks_ref"], format!("{ISS}/api/v1/me/privileges"));
}
