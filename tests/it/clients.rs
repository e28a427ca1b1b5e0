//! OAuth/OIDC clients: registration through the admin API and the CLI, every validation
//! refusal, and client authentication for each method (RFC 6749 §2.3, RFC 7523).

use crate::support::{test_app, Admin, TestApp, TestEnv, T0};
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde_json::{json, Value};
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};
use tenantry::config::PublicUrl;
use tenantry::core::audit::Actor;
use tenantry::core::clients::{
    AuthMethod, Client, ClientCredentials, NewClient, CLIENT_SECRET_PREFIX, JWT_BEARER_ASSERTION,
};
use tenantry::error::Error;
use tenantry::jws::{self, Alg, SigningKey};
use tenantry::tenancy::Tenant;

const G: &str = "globex-acme.localhost:8080";
const CLIENTS: &str = "/api/v1/orgs/globex-acme/clients";

struct World {
    app: TestApp,
    full: Admin,
    reader: Admin,
}

async fn world() -> World {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    let full = app
        .admin(
            "globex-acme",
            "owner@globex.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let reader = app
        .admin(
            "globex-acme",
            "ro@globex.example",
            Some(OrgAccess::ReadOnly),
            vec![],
        )
        .await;
    World { app, full, reader }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn new_client(v: Value) -> NewClient {
    serde_json::from_value(v).expect("a NewClient")
}

async fn tenant(app: &TestApp, name: &str) -> Tenant {
    app.core.find_tenant(name).await.expect("tenant")
}

#[tokio::test]
async fn clients_are_created_listed_read_and_deleted_through_the_api() {
    let w = world().await;
    let (s, v, h) = w
        .app
        .api(
            "POST",
            G,
            CLIENTS,
            Some(&w.full.key),
            Some(json!({"name": "Wiki", "redirect_uris": ["https://wiki.globex.example/cb"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap_or("").to_string();
    assert!(id.starts_with("cli_") && id.len() == 24, "{id}");
    let secret = v["client_secret"].as_str().unwrap_or("");
    assert!(secret.starts_with(CLIENT_SECRET_PREFIX), "{v}");
    assert_eq!(secret.len(), CLIENT_SECRET_PREFIX.len() + 43);
    assert_eq!(v["auth_method"], "client_secret_basic");
    assert_eq!(
        v["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        v["scopes"],
        json!(["openid", "profile", "email", "offline_access", "privileges"])
    );
    assert_eq!(v["id_token_alg"], "ES256");
    assert_eq!(v["require_pkce"], true);
    assert_eq!(v["admin_api"], false);
    assert!(v["created_at"].as_str().unwrap_or("").ends_with('Z'));
    let etag = h["etag"].to_str().unwrap_or("").to_string();

    // Readers see it, never the secret; the ETag of the GET is the one the POST gave.
    let (s, got, h) = w
        .app
        .api(
            "GET",
            G,
            &format!("{CLIENTS}/{id}"),
            Some(&w.reader.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["etag"].to_str().unwrap_or(""), etag);
    assert!(got.get("client_secret").is_none() && !got.to_string().contains("tnt_cs_"));
    let (s, list, _) = w
        .app
        .api("GET", G, CLIENTS, Some(&w.reader.key), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert!(!list.to_string().contains("tnt_cs_"));
    let (_, found, _) = w
        .app
        .api(
            "GET",
            G,
            &format!("{CLIENTS}?q=WIK"),
            Some(&w.reader.key),
            None,
        )
        .await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1));
    let (_, none, _) = w
        .app
        .api(
            "GET",
            G,
            &format!("{CLIENTS}?q=zzz"),
            Some(&w.reader.key),
            None,
        )
        .await;
    assert_eq!(none["items"], json!([]));

    // Read-only admins change nothing.
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            CLIENTS,
            Some(&w.reader.key),
            Some(json!({"name": "X", "grant_types": ["client_credentials"]})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));
    let (s, v, _) = w
        .app
        .api(
            "DELETE",
            G,
            &format!("{CLIENTS}/{id}"),
            Some(&w.reader.key),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_full_required"));

    // Another customer's admin does not see it.
    let other = w
        .app
        .admin(
            "initech-acme",
            "x@initech.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let (s, _, _) = w
        .app
        .api(
            "GET",
            "initech-acme.localhost:8080",
            &format!("/api/v1/orgs/initech-acme/clients/{id}"),
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A stale If-Match is refused; then the delete goes through and is audited.
    let (s, _, _) = w
        .app
        .api_with(
            "DELETE",
            G,
            &format!("{CLIENTS}/{id}"),
            Some(&w.full.key),
            None,
            &[("if-match", "\"nope\"")],
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = w
        .app
        .api_with(
            "DELETE",
            G,
            &format!("{CLIENTS}/{id}"),
            Some(&w.full.key),
            None,
            &[("if-match", etag.as_str())],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = w
        .app
        .api(
            "GET",
            G,
            &format!("{CLIENTS}/{id}"),
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = w
        .app
        .api(
            "DELETE",
            G,
            &format!("{CLIENTS}/{id}"),
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, audit, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/audit",
            Some(&w.full.key),
            None,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        actions.contains(&"client.create") && actions.contains(&"client.delete"),
        "{actions:?}"
    );
    assert!(
        !audit.to_string().contains("tnt_cs_"),
        "no secret in the audit log"
    );
    let (_, verify, _) = w
        .app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/audit/verify",
            Some(&w.full.key),
            None,
        )
        .await;
    assert_eq!(verify["intact"], true, "{verify}");

    // Public and private_key_jwt clients get no secret.
    let (s, v, _) = w
        .app
        .api(
            "POST",
            G,
            CLIENTS,
            Some(&w.full.key),
            Some(json!({"name": "SPA", "public": true, "redirect_uris": ["http://localhost:3000/cb"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["auth_method"], "none");
    assert!(v.get("client_secret").is_none());

    // An admin without org access may not even list.
    let net = w
        .app
        .core
        .create_network("globex-acme", "HQ", &[], &Actor::cli())
        .await
        .expect("network")
        .id;
    let netonly = w
        .app
        .admin(
            "globex-acme",
            "net@globex.example",
            None,
            vec![Grant {
                target: Target::Network(net),
                access: NetworkAccess::ReadOnly,
            }],
        )
        .await;
    let (s, v, _) = w.app.api("GET", G, CLIENTS, Some(&netonly.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "org_read_required"));
}

#[tokio::test]
async fn every_invalid_registration_is_refused_with_its_code() {
    let w = world().await;
    let (_, jwk) = jws::generate(Alg::Es256).expect("key");
    let mut private = jwk.clone();
    private["d"] = json!("AAAA");
    let cb = json!(["https://app.example/cb"]);
    let cases = vec![
        (json!({"name": " "}), "invalid_name"),
        (json!({"name": "x".repeat(101)}), "invalid_name"),
        (json!({"name": "A", "colour": "red"}), "unknown_field"),
        (json!({"name": "A"}), "redirect_uri_required"),
        (
            json!({"name": "A", "redirect_uris": ["/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"name": "A", "redirect_uris": ["ftp://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://u:p@app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"name": "A", "redirect_uris": cb, "post_logout_redirect_uris": ["nope"]}),
            "invalid_post_logout_redirect_uri",
        ),
        (
            json!({"name": "A", "redirect_uris": cb, "initiate_login_uri": "javascript:alert(1)"}),
            "invalid_initiate_login_uri",
        ),
        (
            json!({"name": "A", "grant_types": ["password"]}),
            "unknown_grant_type",
        ),
        (
            json!({"name": "A", "grant_types": ["implicit"]}),
            "unknown_grant_type",
        ),
        (
            json!({"name": "A", "redirect_uris": cb, "scopes": ["openid", "phone"]}),
            "unknown_scope",
        ),
        (
            json!({"name": "A", "redirect_uris": cb, "scopes": ["openid", "admin"]}),
            "admin_scope_not_allowed",
        ),
        (
            json!({"name": "A", "redirect_uris": cb, "id_token_alg": "HS256"}),
            "unknown_id_token_alg",
        ),
        (
            json!({"name": "A", "redirect_uris": cb, "id_token_alg": "none"}),
            "unknown_id_token_alg",
        ),
        (
            json!({"name": "A", "auth_method": "client_secret_jwt"}),
            "invalid_json",
        ),
        (
            json!({"name": "A", "public": true, "grant_types": ["client_credentials"]}),
            "public_client_credentials",
        ),
        (
            json!({"name": "A", "auth_method": "none", "grant_types": ["client_credentials"]}),
            "public_client_credentials",
        ),
        (
            json!({"name": "A", "public": true, "redirect_uris": cb, "require_pkce": false}),
            "public_client_pkce",
        ),
        (
            json!({"name": "A", "public": true, "auth_method": "client_secret_post", "redirect_uris": cb}),
            "public_client_auth_method",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"]}),
            "jwks_required",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": {"keys": [private]}}),
            "private_key_in_jwks",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "private_key_in_jwks",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": {"keys": []}}),
            "invalid_jwks",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": [jwk]}),
            "invalid_jwks",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]}}),
            "invalid_jwks",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": {"keys": [{"kty": "RSA", "n": B64URL.encode([0xffu8; 128]), "e": "AQAB"}]}}),
            "invalid_jwks",
        ),
        (
            json!({"name": "A", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": {"keys": [{"kid": "a", "kty": "OKP", "crv": "Ed25519", "x": "AA"}, {"kid": "a", "kty": "OKP", "crv": "Ed25519", "x": "AA"}]}}),
            "invalid_jwks",
        ),
        (
            json!({"name": "A", "grant_types": ["client_credentials"], "jwks": {"keys": [jwk]}}),
            "jwks_not_allowed",
        ),
    ];
    for (body, expected) in cases {
        let (s, v, _) = w
            .app
            .api("POST", G, CLIENTS, Some(&w.full.key), Some(body.clone()))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, expected),
            "{body}: {v}"
        );
    }
    let (_, list, _) = w.app.api("GET", G, CLIENTS, Some(&w.full.key), None).await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    // http redirect URIs: loopback always, anything else only when the server itself runs
    // on http (this test server does); on https only loopback.
    let t = tenant(&w.app, "globex-acme").await;
    let mut https_core = w.app.core.clone();
    https_core.public_url =
        std::sync::Arc::new(PublicUrl::parse("https://id.example").expect("url"));
    for (uri, ok) in [
        ("http://localhost:8000/cb", true),
        ("http://127.0.0.1/cb", true),
        ("http://[::1]:9/cb", true),
        ("http://app.example/cb", false),
        ("https://app.example/cb", true),
    ] {
        let r = https_core
            .create_client(
                &t,
                new_client(json!({"name": "N", "redirect_uris": [uri]})),
                &Actor::cli(),
                None,
            )
            .await;
        assert_eq!(r.is_ok(), ok, "{uri}: {:?}", r.err());
        let r = w
            .app
            .core
            .create_client(
                &t,
                new_client(json!({"name": "N", "redirect_uris": [uri]})),
                &Actor::cli(),
                None,
            )
            .await;
        assert!(r.is_ok(), "http public URL accepts {uri}");
    }

    // Accepted variations: admin_api adds the admin scope; a confidential client may turn
    // PKCE off; other algorithms; grants without authorization_code need no redirect URI.
    let (c, secret) = w
        .app
        .core
        .create_client(
            &t,
            new_client(json!({"name": "Ops", "grant_types": ["client_credentials", "client_credentials"], "admin_api": true, "scopes": ["openid"], "id_token_alg": "EdDSA", "require_pkce": false, "auth_method": "client_secret_post"})),
            &Actor::cli(),
            None,
        )
        .await
        .expect("valid");
    assert!(secret.is_some());
    assert_eq!(c.grant_types, vec!["client_credentials"]);
    assert_eq!(c.scopes, vec!["openid", "admin"]);
    assert!(c.admin_api && !c.require_pkce && !c.is_public());
    assert_eq!(c.id_token_alg, Alg::EdDsa);
    assert!(c.allows_grant("client_credentials") && !c.allows_grant("refresh_token"));
}

/// A client of globex registered straight through the core.
async fn register(app: &TestApp, t: &Tenant, body: Value) -> (Client, Option<String>) {
    app.core
        .create_client(t, new_client(body), &Actor::cli(), None)
        .await
        .expect("register")
}

fn refused_as_invalid_client<C: std::fmt::Debug>(r: Result<C, Error>, what: &str) {
    match r {
        Err(Error::Unauthenticated { code, .. }) => assert_eq!(code, "invalid_client", "{what}"),
        other => panic!("{what}: expected invalid_client, got {other:?}"),
    }
}

#[tokio::test]
async fn secrets_and_public_clients_authenticate_only_their_own_way() {
    let w = world().await;
    let t = tenant(&w.app, "globex-acme").await;
    let endpoint = format!("{}/oauth2/token", w.app.core.issuer("globex-acme"));
    let cb = json!(["https://app.example/cb"]);
    let (basic, basic_secret) =
        register(&w.app, &t, json!({"name": "B", "redirect_uris": cb})).await;
    let (post, post_secret) = register(
        &w.app,
        &t,
        json!({"name": "P", "auth_method": "client_secret_post", "grant_types": ["client_credentials"]}),
    )
    .await;
    let (spa, none) = register(
        &w.app,
        &t,
        json!({"name": "S", "public": true, "redirect_uris": cb}),
    )
    .await;
    assert!(none.is_none() && spa.is_public() && spa.allows_redirect("https://app.example/cb"));
    assert!(
        !spa.allows_redirect("https://app.example/cb/")
            && !spa.allows_redirect("https://APP.example/cb")
    );
    let (basic_secret, post_secret) = (basic_secret.expect("secret"), post_secret.expect("secret"));
    let core = &w.app.core;
    let auth = |c: ClientCredentials| {
        let (t, endpoint) = (t.clone(), endpoint.clone());
        async move {
            core.authenticate_client(&t, c, &endpoint)
                .await
                .map(std::sync::Arc::unwrap_or_clone)
        }
    };

    let ok = auth(ClientCredentials::Basic {
        id: basic.id.clone(),
        secret: basic_secret.clone(),
    })
    .await
    .expect("basic");
    assert_eq!(ok.id, basic.id);
    assert_eq!(ok.auth_method, AuthMethod::ClientSecretBasic);
    let ok = auth(ClientCredentials::Post {
        id: post.id.clone(),
        secret: post_secret.clone(),
    })
    .await
    .expect("post");
    assert_eq!(ok.id, post.id);
    let ok = auth(ClientCredentials::None { id: spa.id.clone() })
        .await
        .expect("public");
    assert_eq!(ok.id, spa.id);

    refused_as_invalid_client(
        auth(ClientCredentials::Basic {
            id: basic.id.clone(),
            secret: post_secret.clone(),
        })
        .await,
        "wrong secret",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::Basic {
            id: basic.id.clone(),
            secret: format!("{basic_secret}x"),
        })
        .await,
        "secret with a suffix",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::Basic {
            id: basic.id.clone(),
            secret: String::new(),
        })
        .await,
        "empty secret",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::Post {
            id: basic.id.clone(),
            secret: basic_secret.clone(),
        })
        .await,
        "post creds for a basic client",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::Basic {
            id: post.id.clone(),
            secret: post_secret.clone(),
        })
        .await,
        "basic creds for a post client",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::None {
            id: basic.id.clone(),
        })
        .await,
        "a confidential client without its secret",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::Basic {
            id: spa.id.clone(),
            secret: String::new(),
        })
        .await,
        "a public client with Basic",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::None {
            id: "cli_nosuchclient00000000".into(),
        })
        .await,
        "unknown client",
    );
    refused_as_invalid_client(
        auth(ClientCredentials::Basic {
            id: "cli_nosuch".into(),
            secret: basic_secret.clone(),
        })
        .await,
        "unknown client with a secret",
    );

    // Another tenant's client id is unknown here, and globex's is unknown there.
    let initech = tenant(&w.app, "initech-acme").await;
    let (theirs, their_secret) =
        register(&w.app, &initech, json!({"name": "I", "redirect_uris": cb})).await;
    let their_secret = their_secret.expect("secret");
    refused_as_invalid_client(
        auth(ClientCredentials::Basic {
            id: theirs.id.clone(),
            secret: their_secret.clone(),
        })
        .await,
        "another tenant's client",
    );
    refused_as_invalid_client(
        core.authenticate_client(
            &initech,
            ClientCredentials::Basic {
                id: basic.id.clone(),
                secret: basic_secret.clone(),
            },
            &endpoint,
        )
        .await,
        "this tenant's client elsewhere",
    );
    assert!(core.client(&t, &theirs.id).await.expect("lookup").is_none());
    assert_eq!(
        core.client(&t, &basic.id)
            .await
            .expect("lookup")
            .map(|c| c.id),
        Some(basic.id.clone())
    );

    // The cache follows writes even for a caller holding the tenant as it was before.
    let stale = t.clone();
    core.delete_client(&t, &basic.id, &Actor::cli(), None)
        .await
        .expect("delete");
    refused_as_invalid_client(
        core.authenticate_client(
            &stale,
            ClientCredentials::Basic {
                id: basic.id.clone(),
                secret: basic_secret.clone(),
            },
            &endpoint,
        )
        .await,
        "a deleted client",
    );
    assert!(core
        .client(&stale, &basic.id)
        .await
        .expect("lookup")
        .is_none());
    let fresh = tenant(&w.app, "globex-acme").await;
    assert!(
        fresh.version > stale.version,
        "writes bump the tenant version"
    );
    assert!(core
        .client(&fresh, &basic.id)
        .await
        .expect("lookup")
        .is_none());
    let (again, _) = register(
        &w.app,
        &stale,
        json!({"name": "B2", "grant_types": ["client_credentials"]}),
    )
    .await;
    assert!(
        core.client(&stale, &again.id)
            .await
            .expect("lookup")
            .is_some(),
        "a negative entry does not outlive a create"
    );
    let mut listed: Vec<String> = core
        .list_clients(&fresh)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut expected = vec![post.id.clone(), spa.id.clone(), again.id.clone()];
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
}

fn key_pair(alg: Alg, kid: &str) -> (SigningKey, Value) {
    let (der, mut jwk) = jws::generate(alg).expect("generate");
    jwk["kid"] = json!(kid);
    (SigningKey::from_pkcs8(alg, &der).expect("load"), jwk)
}

fn claims(client: &str, aud: Value, exp: i64, jti: &str) -> Value {
    json!({"iss": client, "sub": client, "aud": aud, "exp": exp, "iat": T0, "jti": jti})
}

#[tokio::test]
async fn private_key_jwt_assertions_are_checked_in_full() {
    let w = world().await;
    let t = tenant(&w.app, "globex-acme").await;
    let core = &w.app.core;
    let issuer = core.issuer("globex-acme");
    let endpoint = format!("{issuer}/oauth2/token");
    let (es, es_jwk) = key_pair(Alg::Es256, "es-1");
    let (ed, ed_jwk) = key_pair(Alg::EdDsa, "ed-1");
    let (rs, rs_jwk) = key_pair(Alg::Rs256, "rs-1");
    let (stranger, _) = key_pair(Alg::Es256, "es-1");
    let (c, secret) = register(
        &w.app,
        &t,
        json!({"name": "Daemon", "auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
               "jwks": {"keys": [es_jwk, ed_jwk, rs_jwk, {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "use": "enc"}]}}),
    )
    .await;
    assert!(secret.is_none());
    let assertion =
        |key: &SigningKey, kid: &str, claims: &Value| key.sign(kid, "JWT", claims).expect("sign");
    let creds = |a: String| ClientCredentials::Assertion {
        client_id: None,
        assertion_type: JWT_BEARER_ASSERTION.into(),
        assertion: a,
    };
    let check = |cr: ClientCredentials| {
        let (t, endpoint) = (t.clone(), endpoint.clone());
        async move { core.authenticate_client(&t, cr, &endpoint).await }
    };

    // Valid with each algorithm; aud may be the token endpoint, the issuer, or an array.
    let ok = check(creds(assertion(
        &es,
        "es-1",
        &claims(&c.id, json!(endpoint), T0 + 300, "j1"),
    )))
    .await
    .expect("ES256");
    assert_eq!(ok.id, c.id);
    check(creds(assertion(
        &ed,
        "ed-1",
        &claims(&c.id, json!(issuer), T0 + 60, "j2"),
    )))
    .await
    .expect("EdDSA");
    check(creds(assertion(
        &rs,
        "rs-1",
        &claims(
            &c.id,
            json!(["https://elsewhere", endpoint]),
            T0 + 600,
            "j3",
        ),
    )))
    .await
    .expect("RS256");
    check(ClientCredentials::Assertion {
        client_id: Some(c.id.clone()),
        assertion_type: JWT_BEARER_ASSERTION.into(),
        assertion: assertion(&es, "es-1", &claims(&c.id, json!(endpoint), T0 + 300, "j4")),
    })
    .await
    .expect("with a matching client_id");
    let fractional = json!({"iss": c.id, "sub": c.id, "aud": endpoint, "exp": (T0 + 300) as f64 + 0.5, "jti": "j5"});
    check(creds(assertion(&es, "es-1", &fractional)))
        .await
        .expect("a fractional NumericDate");

    let aud = json!(endpoint);
    let refusals: Vec<(&str, ClientCredentials)> = vec![
        (
            "reused jti",
            creds(assertion(
                &es,
                "es-1",
                &claims(&c.id, aud.clone(), T0 + 300, "j1"),
            )),
        ),
        (
            "wrong aud",
            creds(assertion(
                &es,
                "es-1",
                &claims(&c.id, json!("https://other.example/token"), T0 + 300, "a1"),
            )),
        ),
        (
            "aud of another tenant",
            creds(assertion(
                &es,
                "es-1",
                &claims(&c.id, json!(core.issuer("initech-acme")), T0 + 300, "a2"),
            )),
        ),
        (
            "no aud",
            creds(assertion(
                &es,
                "es-1",
                &json!({"iss": c.id, "sub": c.id, "exp": T0 + 300, "jti": "a3"}),
            )),
        ),
        (
            "expired",
            creds(assertion(
                &es,
                "es-1",
                &claims(&c.id, aud.clone(), T0 - 1, "e1"),
            )),
        ),
        (
            "expiring now",
            creds(assertion(
                &es,
                "es-1",
                &claims(&c.id, aud.clone(), T0, "e2"),
            )),
        ),
        (
            "valid for too long",
            creds(assertion(
                &es,
                "es-1",
                &claims(&c.id, aud.clone(), T0 + 3600, "e3"),
            )),
        ),
        (
            "no exp",
            creds(assertion(
                &es,
                "es-1",
                &json!({"iss": c.id, "sub": c.id, "aud": aud, "jti": "e4"}),
            )),
        ),
        (
            "not yet valid",
            creds(assertion(
                &es,
                "es-1",
                &json!({"iss": c.id, "sub": c.id, "aud": aud, "exp": T0 + 300, "nbf": T0 + 200, "jti": "e5"}),
            )),
        ),
        (
            "no jti",
            creds(assertion(
                &es,
                "es-1",
                &json!({"iss": c.id, "sub": c.id, "aud": aud, "exp": T0 + 300}),
            )),
        ),
        (
            "a key not in the jwks",
            creds(assertion(
                &stranger,
                "es-1",
                &claims(&c.id, aud.clone(), T0 + 300, "k1"),
            )),
        ),
        (
            "kid of another key",
            creds(assertion(
                &es,
                "ed-1",
                &claims(&c.id, aud.clone(), T0 + 300, "k2"),
            )),
        ),
        (
            "unknown kid",
            creds(assertion(
                &es,
                "nope",
                &claims(&c.id, aud.clone(), T0 + 300, "k3"),
            )),
        ),
        (
            "iss differs from sub",
            creds(assertion(
                &es,
                "es-1",
                &json!({"iss": c.id, "sub": "cli_other", "aud": aud, "exp": T0 + 300, "jti": "s1"}),
            )),
        ),
        (
            "unknown client",
            creds(assertion(
                &es,
                "es-1",
                &claims("cli_nosuchclient00000000", aud.clone(), T0 + 300, "s2"),
            )),
        ),
        (
            "client_id differs",
            ClientCredentials::Assertion {
                client_id: Some("cli_other".into()),
                assertion_type: JWT_BEARER_ASSERTION.into(),
                assertion: assertion(&es, "es-1", &claims(&c.id, aud.clone(), T0 + 300, "s3")),
            },
        ),
        (
            "wrong assertion type",
            ClientCredentials::Assertion {
                client_id: None,
                assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".into(),
                assertion: assertion(&es, "es-1", &claims(&c.id, aud.clone(), T0 + 300, "s4")),
            },
        ),
        ("garbage", creds("not.a.jwt".into())),
        (
            "a secret instead",
            ClientCredentials::Basic {
                id: c.id.clone(),
                secret: "tnt_cs_x".into(),
            },
        ),
        (
            "no credentials",
            ClientCredentials::None { id: c.id.clone() },
        ),
    ];
    for (what, cr) in refusals {
        refused_as_invalid_client(check(cr).await, what);
    }

    // alg none (and HMAC keyed with a public key) never verify.
    let body = B64URL.encode(claims(&c.id, aud.clone(), T0 + 300, "n1").to_string());
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "kid": "es-1"}),
        json!({"alg": "HS256", "kid": "es-1"}),
    ] {
        let unsigned = format!("{}.{body}.", B64URL.encode(header.to_string()));
        refused_as_invalid_client(check(creds(unsigned)).await, "alg none / HMAC");
    }
    // A signature over other claims does not carry over.
    let good = assertion(&es, "es-1", &claims(&c.id, aud.clone(), T0 + 300, "m1"));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        B64URL.encode(claims(&c.id, aud.clone(), T0 + 300, "m2").to_string()),
        parts[2]
    );
    refused_as_invalid_client(check(creds(forged)).await, "tampered claims");

    // A jti is free again once its assertion expired.
    w.app.clock.advance(301);
    check(creds(assertion(
        &es,
        "es-1",
        &claims(&c.id, aud.clone(), T0 + 601, "j1"),
    )))
    .await
    .expect("old jti after expiry");
    // A secret-based client cannot use assertions.
    let (basic, _) = register(
        &w.app,
        &t,
        json!({"name": "B", "grant_types": ["client_credentials"]}),
    )
    .await;
    refused_as_invalid_client(
        check(creds(assertion(
            &es,
            "es-1",
            &claims(&basic.id, aud.clone(), T0 + 600, "b1"),
        )))
        .await,
        "assertion for a client_secret_basic client",
    );
}

struct Run {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

fn run(env: &TestEnv, args: &[&str]) -> Run {
    let out = env.command().args(args).output().expect("run tenantry");
    Run {
        code: out.status.code(),
        json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(env: &TestEnv, args: &[&str]) -> Value {
    let r = run(env, args);
    assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
    r.json
}

#[tokio::test]
async fn clients_from_the_command_line() {
    let env = TestEnv::new().await;
    ok(
        &env,
        &[
            "msp",
            "create",
            "acme",
            "--admin-email",
            "boss@acme.example",
        ],
    );
    ok(&env, &["tenant", "create", "globex", "--msp", "acme"]);
    let c = ok(
        &env,
        &[
            "client",
            "create",
            "--tenant",
            "globex-acme",
            "--name",
            "Wiki",
            "--redirect-uri",
            "https://wiki.example/cb",
            "--redirect-uri",
            "http://localhost:3000/cb",
            "--scope",
            "openid",
            "--scope",
            "privileges",
            "--id-token-alg",
            "RS256",
        ],
    );
    let id = c["client_id"].as_str().unwrap_or("").to_string();
    assert!(id.starts_with("cli_"), "{c}");
    assert_eq!(c["id"], id.as_str());
    assert!(
        c["client_secret"]
            .as_str()
            .unwrap_or("")
            .starts_with("tnt_cs_"),
        "{c}"
    );
    assert_eq!(c["scopes"], json!(["openid", "privileges"]));
    assert_eq!(c["id_token_alg"], "RS256");
    let d = ok(
        &env,
        &[
            "client",
            "create",
            "--tenant",
            "globex-acme",
            "--name",
            "Daemon",
            "--grant",
            "client_credentials",
            "--auth-method",
            "client-secret-post",
            "--admin-api",
            "--no-pkce",
        ],
    );
    assert_eq!(d["auth_method"], "client_secret_post");
    assert_eq!(d["admin_api"], true);
    assert_eq!(d["require_pkce"], false);
    assert!(d["scopes"]
        .as_array()
        .is_some_and(|s| s.contains(&json!("admin"))));
    let p = ok(
        &env,
        &[
            "client",
            "create",
            "--tenant",
            "globex-acme",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:5173/cb",
        ],
    );
    assert_eq!(p["auth_method"], "none");
    assert!(p.get("client_secret").is_none());

    let (_, jwk) = jws::generate(Alg::EdDsa).expect("key");
    let jwks_path = env.dir.path().join("jwks.json");
    std::fs::write(&jwks_path, json!({"keys": [jwk]}).to_string()).expect("write jwks");
    let k = ok(
        &env,
        &[
            "client",
            "create",
            "--tenant",
            "globex-acme",
            "--name",
            "Keyed",
            "--grant",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            jwks_path.to_str().unwrap_or(""),
        ],
    );
    assert_eq!(k["auth_method"], "private_key_jwt");
    assert!(k.get("client_secret").is_none());

    let list = ok(&env, &["client", "list", "--tenant", "globex-acme"]);
    let mut names: Vec<&str> = list
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort();
    assert_eq!(names, vec!["Daemon", "Keyed", "SPA", "Wiki"]);
    assert!(!list.to_string().contains("tnt_cs_"));

    for (args, expected) in [
        (
            vec!["client", "create", "--tenant", "globex-acme", "--name", "X"],
            "redirect_uri_required",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "globex-acme",
                "--name",
                "X",
                "--public",
                "--grant",
                "client_credentials",
            ],
            "public_client_credentials",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "globex-acme",
                "--name",
                "X",
                "--public",
                "--no-pkce",
                "--redirect-uri",
                "https://a.example/cb",
            ],
            "public_client_pkce",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "globex-acme",
                "--name",
                "X",
                "--auth-method",
                "magic",
            ],
            "unknown_auth_method",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "globex-acme",
                "--name",
                "X",
                "--grant",
                "client_credentials",
                "--scope",
                "admin",
            ],
            "admin_scope_not_allowed",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "globex-acme",
                "--name",
                "X",
                "--grant",
                "client_credentials",
                "--id-token-alg",
                "HS256",
            ],
            "unknown_id_token_alg",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "nosuch",
                "--name",
                "X",
                "--grant",
                "client_credentials",
            ],
            "not_found",
        ),
        (
            vec!["client", "delete", "--tenant", "globex-acme", "cli_nosuch"],
            "not_found",
        ),
    ] {
        let r = run(&env, &args);
        assert_eq!(r.code, Some(2), "{args:?} should fail: {}", r.stderr);
        assert!(
            r.stderr.contains(expected),
            "{args:?}: expected {expected} in {}",
            r.stderr
        );
        assert_eq!(r.json, Value::Null);
    }

    let gone = ok(&env, &["client", "delete", "--tenant", "globex-acme", &id]);
    assert_eq!(gone, json!({"id": id, "deleted": true}));
    let list = ok(&env, &["client", "list", "--tenant", "globex-acme"]);
    assert_eq!(list.as_array().map(Vec::len), Some(3));
}
