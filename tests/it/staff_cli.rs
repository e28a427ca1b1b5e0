//! `tenantry msp offboard`, running the real binary against the test's database.

use crate::delegations::{audit, delegate, world, G, I, M};
use axum::http::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn the_cli_offboards_an_msp_user() {
    let w = world().await;
    let app = &w.app;
    let (s, _) = delegate(
        app,
        M,
        "globex-acme",
        &w.boss.key,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = delegate(
        app,
        I,
        "initech-acme",
        &w.initech_owner.key,
        json!({"msp_user": "tech@acme.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    let out = app
        .env
        .command()
        .args([
            "msp",
            "offboard",
            "--msp",
            "acme",
            "--email",
            "TECH@acme.example",
        ])
        .output()
        .expect("run tenantry");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["msp"], "acme");
    assert_eq!(v["user_id"], w.tech.user_id.as_str());
    assert_eq!(v["role"], "technician");
    assert_eq!(v["api_keys_revoked"], 1);
    assert_eq!(
        v["delegations_revoked"].as_array().map(Vec::len),
        Some(2),
        "{v}"
    );

    let (s, _, _) = app
        .api("GET", M, "/api/v1/me", Some(&w.tech.key), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, v, _) = app
        .api(
            "GET",
            G,
            "/api/v1/orgs/globex-acme/delegations",
            Some(&w.owner.key),
            None,
        )
        .await;
    assert_eq!(v["items"][0]["state"], "revoked");
    assert_eq!(v["items"][0]["revoked_by"]["id"], "cli");
    let log = audit(app, I, "initech-acme", &w.initech_owner.key).await;
    let e = log
        .iter()
        .find(|e| e["action"] == "delegation.revoke")
        .expect("audited");
    assert_eq!(e["actor"], "cli");
    let log = audit(app, M, "acme", &w.boss.key).await;
    assert!(log
        .iter()
        .any(|e| e["action"] == "staff.offboard" && e["actor"] == "cli"));

    // Unknown MSP or user: exit 2, nothing on stdout.
    for args in [
        ["--msp", "acme", "--email", "nobody@acme.example"],
        ["--msp", "globex-acme", "--email", "tech@acme.example"],
    ] {
        let out = app
            .env
            .command()
            .args(["msp", "offboard"])
            .args(args)
            .output()
            .expect("run tenantry");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}
