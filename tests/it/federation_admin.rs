//! Managing federation connections: `tenantry federation add|list|remove|verify-domain`
//! with the real binary, the admin API (org read-only lists, org full changes, the client
//! secret never shown and sealed at rest), the audit trail, and the login page's
//! single sign-on section.

use crate::support::{test_app, TestEnv};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tenantry::authz::OrgAccess;

fn run(env: &TestEnv, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = env.command().args(args).output().expect("run tenantry");
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn federation_from_the_command_line() {
    let env = TestEnv::new().await;
    let (code, _, err) = run(
        &env,
        &[
            "msp",
            "create",
            "acme",
            "--admin-email",
            "boss@acme.example",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let add = [
        "federation",
        "add",
        "--tenant",
        "acme",
        "--name",
        "corp",
        "--issuer",
        "https://idp.corp.example",
        "--client-id",
        "tenantry",
        "--client-secret",
        "s3cret-value",
        "--claim",
        "roles",
        "--domain",
        "Corp.Example",
        "--domain",
        "corp.example",
        "--allow-linking",
    ];
    let (code, c, err) = run(&env, &add);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(c["name"], "corp");
    assert_eq!(c["kind"], "oidc");
    assert_eq!(c["claim"], "roles");
    assert_eq!(c["has_client_secret"], true);
    assert_eq!(c["allow_linking"], true);
    assert_eq!(c["scopes"], json!(["email", "profile"]));
    let value = c["domains"][0]["dns_record"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(value.starts_with("tenantry-verification="), "{c}");
    assert_eq!(
        c["domains"],
        json!([{"domain": "corp.example", "verified": false, "verified_by": null,
            "verified_at": null, "dns_record": {"name": "_tenantry.corp.example",
            "type": "TXT", "value": value}}]),
        "one domain, normalised, not verified, with the record that would verify it"
    );
    assert_eq!(
        c["redirect_uri"],
        "http://acme.localhost:8080/federation/corp/callback"
    );
    assert!(!c.to_string().contains("s3cret"), "{c}");
    // The same name again, a bad issuer, an unknown kind: refused, exit 2.
    let (code, _, err) = run(&env, &add);
    assert_eq!(code, Some(2));
    assert!(err.contains("name_taken"), "{err}");
    let mut bad = add.to_vec();
    bad[5] = "other";
    bad[7] = "ftp://idp.corp.example";
    let (code, _, err) = run(&env, &bad);
    assert_eq!(
        (code, err.contains("invalid_url")),
        (Some(2), true),
        "{err}"
    );
    let (code, _, err) = run(
        &env,
        &[
            "federation",
            "add",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--kind",
            "ldap",
        ],
    );
    assert_eq!(
        (code, err.contains("invalid_kind")),
        (Some(2), true),
        "{err}"
    );
    let md = env.dir.path().join("idp.xml");
    std::fs::write(
        &md,
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
    )
    .expect("write");
    let (code, _, err) = run(
        &env,
        &[
            "federation",
            "add",
            "--tenant",
            "acme",
            "--name",
            "s",
            "--kind",
            "saml",
            "--metadata",
            md.to_str().expect("path"),
        ],
    );
    assert_eq!(
        (code, err.contains("invalid_metadata")),
        (Some(2), true),
        "{err}"
    );

    let (code, d, err) = run(
        &env,
        &[
            "federation",
            "verify-domain",
            "--tenant",
            "acme",
            "corp.example",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (&d["domain"], &d["verified"], &d["verified_by"]),
        (&json!("corp.example"), &json!(true), &json!("cli")),
        "{d}"
    );
    assert!(d["verified_at"].is_string(), "{d}");
    let (code, _, _) = run(
        &env,
        &[
            "federation",
            "verify-domain",
            "--tenant",
            "acme",
            "nope.example",
        ],
    );
    assert_eq!(code, Some(2));
    let (_, list, _) = run(&env, &["federation", "list", "--tenant", "acme"]);
    assert_eq!(list[0]["domains"][0]["verified"], true, "{list}");
    let (code, _, err) = run(&env, &["federation", "remove", "--tenant", "acme", "corp"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, list, _) = run(&env, &["federation", "list", "--tenant", "acme"]);
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn federation_through_the_admin_api_with_the_secret_sealed() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    let h = "acme.localhost:8080";
    let full = app
        .admin("acme", "full@acme.example", Some(OrgAccess::Full), vec![])
        .await;
    let reader = app
        .admin("acme", "ro@acme.example", Some(OrgAccess::ReadOnly), vec![])
        .await;
    let p = "/api/v1/orgs/acme/federation";
    let body = json!({
        "name": "corp",
        "display_name": "Corp SSO",
        "kind": "oidc",
        "issuer": "https://idp.corp.example/",
        "client_id": "tenantry",
        "client_secret": "s3cret-value",
        "domains": ["corp.example"],
    });
    let (s, v, _) = app
        .api("POST", h, p, Some(&reader.key), Some(body.clone()))
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("org_full_required"))
    );
    let mut unknown = body.clone();
    unknown["colour"] = json!("blue");
    let (s, _, _) = app.api("POST", h, p, Some(&full.key), Some(unknown)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unknown fields refused");
    let saml = json!({"name": "s", "kind": "saml", "metadata": "<md:EntityDescriptor/>"});
    let (s, v, _) = app.api("POST", h, p, Some(&full.key), Some(saml)).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_metadata"))
    );
    let (s, v, _) = app.api("POST", h, p, Some(&full.key), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["issuer"], "https://idp.corp.example");
    assert_eq!(v["claim"], "groups", "the default claim");
    assert!(!v.to_string().contains("s3cret"));
    let id = v["id"].as_str().expect("id").to_string();

    // Sealed at rest: the row holds no clear text, and the secret opens for sign-in only.
    let t = app.core.find_tenant("acme").await.expect("tenant");
    let mut conn = app.core.store.conn().await.expect("conn");
    let (stored,): (String,) = sqlx::query_as(
        "SELECT client_secret FROM federation_connections WHERE tenant_id = $1 AND id = $2",
    )
    .bind(t.id.as_str())
    .bind(&id)
    .fetch_one(&mut *conn)
    .await
    .expect("row");
    drop(conn);
    assert!(!stored.contains("s3cret"));
    let c = app.core.connection(&t, "corp").await.expect("connection");
    let settings = app.core.oidc_settings(&t, &c).await.expect("settings");
    assert_eq!(settings.client_secret.as_deref(), Some("s3cret-value"));

    let (s, v, _) = app.api("GET", h, p, Some(&reader.key), None).await;
    assert_eq!(
        (s, v["items"][0]["name"].as_str()),
        (StatusCode::OK, Some("corp"))
    );
    let (s, v, _) = app
        .api("GET", h, &format!("{p}/corp"), Some(&reader.key), None)
        .await;
    assert_eq!((s, v["id"].as_str()), (StatusCode::OK, Some(id.as_str())));

    // The login page offers single sign-on; the passkey button is still there.
    let page = app.get(h, "/login?pending=abc").await;
    assert!(page.body.contains("id=\"login\""));
    assert!(
        page.body.contains("id=\"federation-email\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"pending\" value=\"abc\""));

    let (s, _, _) = app
        .api("DELETE", h, &format!("{p}/{id}"), Some(&reader.key), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .api("DELETE", h, &format!("{p}/{id}"), Some(&full.key), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let page = app.get(h, "/login").await;
    assert!(
        !page.body.contains("federation"),
        "no connection, no section"
    );
    let (_, audit, _) = app
        .api(
            "GET",
            h,
            "/api/v1/orgs/acme/audit?limit=100",
            Some(&full.key),
            None,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(actions.contains(&"federation.create"), "{actions:?}");
    assert!(actions.contains(&"federation.delete"), "{actions:?}");
    assert!(
        !audit.to_string().contains("s3cret"),
        "no secret in the audit log"
    );
}

#[tokio::test]
async fn discovery_urls_must_be_public_https_without_the_test_flag() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    let t = app.core.find_tenant("acme").await.expect("tenant");
    for (name, issuer) in [
        ("plain", "http://idp.example"),
        ("loop", "https://127.0.0.1:9"),
        ("local", "https://idp.localhost"),
        ("private", "https://10.0.0.1"),
    ] {
        let new = tenantry::core::federation::NewConnection {
            name: name.into(),
            display_name: None,
            kind: tenantry::core::federation::Kind::Oidc,
            issuer: Some(issuer.into()),
            client_id: Some("c".into()),
            client_secret: None,
            scopes: vec![],
            metadata: None,
            metadata_url: None,
            claim: None,
            domains: vec![],
            allow_linking: false,
        };
        app.core
            .create_connection(&t, new, &tenantry::core::audit::Actor::cli(), None)
            .await
            .expect("stored: the fetch policy applies when it is used");
        let r = app
            .get(
                "acme.localhost:8080",
                &format!("/federation/start?connection={name}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{issuer}: {}", r.body);
        assert!(r.body.contains("error:"), "{}", r.body);
        assert!(
            r.body.contains("only https")
                || r.body.contains("private")
                || r.body.contains("loopback"),
            "{issuer}: {}",
            r.body
        );
        assert!(r.headers.get("location").is_none());
    }
}
