//! An upstream SAML IdP registered by its metadata URL (`metadata_url` in the admin API,
//! `--metadata-url` in the CLI): fetched once, at registration, under the fetch policy of
//! SP metadata by URL (https only; private and loopback addresses refused unless the server
//! runs with `--allow-insecure-fetch`). End to end over loopback: downco registers upco's
//! IdP by URL and signs in through it. Every refusal stores nothing and, where the policy
//! refuses the URL, fetches nothing.

use crate::federation::{origin, world_at, Browser};
use crate::federation_saml::{post_acs, to_idp_and_back};
use crate::saml_metadata_url::serve;
use crate::support::{test_app, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use tenantry::app::AppState;
use tenantry::authz::OrgAccess;
use tenantry::core::audit::Actor;

const H: &str = "acme.localhost:8080";
const P: &str = "/api/v1/orgs/acme/federation";

async fn count(app: &TestApp) -> usize {
    let t = app.core.find_tenant("acme").await.expect("acme");
    app.core.list_connections(&t).await.expect("list").len()
}

fn saml(url: &str) -> Value {
    json!({"name": "idp", "kind": "saml", "metadata_url": url})
}

#[tokio::test]
async fn the_admin_api_fetches_idp_metadata_once_under_the_fetch_policy() {
    let mut app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    let full = app
        .admin("acme", "full@acme.example", Some(OrgAccess::Full), vec![])
        .await;
    let ro = app
        .admin("acme", "ro@acme.example", Some(OrgAccess::ReadOnly), vec![])
        .await;
    // Real IdP metadata: this server's own, of tenant acme.
    let md = app.get(H, "/saml/metadata").await;
    assert_eq!(md.status, StatusCode::OK);
    let srv = serve(md.body.clone());
    let url = format!("http://127.0.0.1:{}/md.xml", srv.port);

    // Without the flag: http, loopback, private addresses and non-URLs are refused.
    for (u, why) in [
        (url.clone(), "only https"),
        (
            format!("https://127.0.0.1:{}/md.xml", srv.port),
            "private address",
        ),
        ("https://10.1.2.3/md.xml".to_string(), "private address"),
        ("https://idp.localhost/md.xml".to_string(), "loopback"),
        ("not a url".to_string(), "not a URL"),
    ] {
        let (s, e, _) = app.api("POST", H, P, Some(&full.key), Some(saml(&u))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{u}: {e}");
        assert_eq!(e["error"]["code"], "invalid_metadata_url", "{e}");
        let msg = e["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(why), "{u}: {msg}");
    }
    // A reader is refused before anything is fetched; so are both forms at once, and a
    // URL for an OIDC connection.
    let (s, _, _) = app.api("POST", H, P, Some(&ro.key), Some(saml(&url))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut both = saml(&url);
    both["metadata"] = json!(md.body);
    let (s, e, _) = app.api("POST", H, P, Some(&full.key), Some(both)).await;
    assert_eq!(
        (s, &e["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_metadata"))
    );
    let oidc = json!({"name": "o", "kind": "oidc", "issuer": "https://idp.example",
        "client_id": "c", "metadata_url": url});
    let (s, e, _) = app.api("POST", H, P, Some(&full.key), Some(oidc)).await;
    assert_eq!(
        (s, &e["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_metadata_url"))
    );
    assert_eq!(srv.hits.load(Ordering::SeqCst), 0, "nothing was fetched");
    assert_eq!(count(&app).await, 0);

    // With --allow-insecure-fetch (tests only): a 404 and a document that is no IdP
    // metadata are refused, the real one is stored with its URL, fetched once.
    app.core = app.core.clone().with_insecure_fetch(true);
    app.state = AppState::new(app.core.clone());
    let missing = format!("http://127.0.0.1:{}/nothing.xml", srv.port);
    let (s, e, _) = app
        .api("POST", H, P, Some(&full.key), Some(saml(&missing)))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 404"),
        "{e}"
    );
    let sp_only = serve(app.get(H, "/saml/sp/metadata").await.body);
    let (s, e, _) = app
        .api(
            "POST",
            H,
            P,
            Some(&full.key),
            Some(saml(&format!("http://127.0.0.1:{}/md.xml", sp_only.port))),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["code"], "invalid_metadata_url", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("the fetched metadata"),
        "{e}"
    );
    assert_eq!(count(&app).await, 0);
    let before = srv.hits.load(Ordering::SeqCst);
    let (s, c, _) = app
        .api("POST", H, P, Some(&full.key), Some(saml(&url)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["kind"], "saml");
    assert_eq!(c["metadata_url"], url.as_str());
    assert_eq!(srv.hits.load(Ordering::SeqCst), before + 1, "fetched once");
    let t = app.core.find_tenant("acme").await.expect("acme");
    let stored = app.core.connection(&t, "idp").await.expect("stored");
    assert_eq!(stored.metadata.as_deref(), Some(md.body.trim()));
}

#[tokio::test]
async fn the_cli_fetches_idp_metadata_with_the_same_policy() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    let md = app.get(H, "/saml/metadata").await;
    let srv = serve(md.body);
    let url = format!("http://127.0.0.1:{}/md.xml", srv.port);
    let args = [
        "federation",
        "add",
        "--tenant",
        "acme",
        "--name",
        "idp",
        "--kind",
        "saml",
        "--metadata-url",
        &url,
    ];
    let out = app.env.command().args(args).output().expect("run tenantry");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only https"), "{err}");
    assert_eq!(srv.hits.load(Ordering::SeqCst), 0);
    assert_eq!(count(&app).await, 0);
    let out = app
        .env
        .command()
        .args(args)
        .arg("--allow-insecure-fetch")
        .output()
        .expect("run tenantry");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(c["metadata_url"], url.as_str());
    assert_eq!(srv.hits.load(Ordering::SeqCst), 1);
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn an_idp_registered_by_url_signs_users_in() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let w = world_at(now).await;
    let mut b = Browser::new(w.port);
    let sp_md = b.get(&w.down("/saml/sp/metadata")).await;
    let up = w.core.find_tenant("upco").await.expect("upco");
    let new = tenantry::saml::parse_sp_metadata(&sp_md.body).expect("our SP metadata");
    w.core
        .register_saml_sp(&up, new, &Actor::cli(), None)
        .await
        .expect("register our SP at upco");
    let url = format!("{}/saml/metadata", origin("upco", w.port));
    let (s, c) = w
        .api(
            "downco",
            "POST",
            "/api/v1/orgs/downco/federation",
            &w.down_key,
            json!({"name": "corpsaml", "display_name": "Corp SAML", "kind": "saml",
                "metadata_url": url, "claim": "org_access"}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{c}");
    assert_eq!(c["metadata_url"], url.as_str());
    let fields = to_idp_and_back(&w, &mut b).await;
    let done = post_acs(&w, &fields).await;
    assert_eq!(done.status, reqwest::StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location.ends_with("/account"), "{}", done.location);
}
