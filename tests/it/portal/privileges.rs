//! `/portal/privileges`: an admin's effective access per network with the engine's
//! reasons, "explain one capability", who can reach a network; what the caller may not
//! see is refused as the API refuses it.

use super::{assert_accessible, get, msp, network, row_of, session, signed_in, G, M};
use crate::support::test_app;
use axum::http::StatusCode;
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};

#[tokio::test]
async fn privileges_are_explained_per_admin_and_per_network() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    let alpha = network(&app, "globex-acme", "Alpha", &["branch"]).await;
    let beta = network(&app, "globex-acme", "Beta", &[]).await;
    let net = app
        .admin(
            "globex-acme",
            "net@globex.example",
            None,
            vec![Grant::parse("tag:branch=read-only").expect("grant")],
        )
        .await;

    // The MSP boss, from the MSP host: the network admin's access, with its reason.
    let path = format!("/portal/privileges?org=globex-acme&admin={}", net.id);
    let p = get(&app, M, &path, &cookie).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    assert!(p.body.contains("<h1>Privileges in Globex</h1>"));
    let a = row_of(&p.body, "Alpha");
    assert!(a.contains("<td>read-only</td>"), "{a}");
    assert!(
        a.contains(&format!(
            "read-only on {} via tag:branch from own account",
            alpha.id
        )),
        "{a}"
    );
    let b = row_of(&p.body, "Beta");
    assert!(b.contains("none (hidden from this admin)"), "{b}");
    assert!(row_of(&p.body, "Organization").contains("<td>none</td>"));

    // One capability: held with its reason, or not held.
    let p = get(
        &app,
        M,
        &format!("{path}&scope={}&capability=network.config.view", alpha.id),
        &cookie,
    )
    .await;
    assert!(p
        .body
        .contains("<strong>Held</strong>: network.config.view in Alpha."));
    let p = get(
        &app,
        M,
        &format!("{path}&scope={}&capability=network.config.edit", alpha.id),
        &cookie,
    )
    .await;
    assert!(p
        .body
        .contains("<strong>Not held</strong>: network.config.edit in Alpha."));
    let p = get(&app, M, &format!("{path}&capability=no.such"), &cookie).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body.contains("&#39;no.such&#39; is not a capability")
            || p.body.contains("'no.such' is not a capability")
    );

    // Who can reach Alpha: both org-full admins, the network admin, the MSP boss.
    let p = get(
        &app,
        M,
        &format!("/portal/privileges?org=globex-acme&network={}", alpha.id),
        &cookie,
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p);
    let boss = row_of(&p.body, "boss@acme.example");
    assert!(
        boss.contains(&format!(
            "full on {} via org access full from MSP role super-user",
            alpha.id
        )),
        "{boss}"
    );
    assert!(row_of(&p.body, "net@globex.example").contains("via tag:branch from own account"));
    assert!(row_of(&p.body, "a@globex.example").contains("via org access full from own account"));
    let p = get(
        &app,
        M,
        &format!(
            "/portal/privileges?org=globex-acme&network={}&for=network.config.edit",
            beta.id
        ),
        &cookie,
    )
    .await;
    assert!(!p.body.contains("<th scope=\"row\">net@globex.example"));
    assert!(row_of(&p.body, "a@globex.example").contains("full on"));
}

#[tokio::test]
async fn privileges_hide_what_the_caller_may_not_see() {
    let app = test_app().await;
    msp(&app).await;
    let alpha = network(&app, "globex-acme", "Alpha", &[]).await;
    let other = network(&app, "initech-acme", "Elsewhere", &[]).await;
    let outsider = app
        .admin(
            "initech-acme",
            "x@initech.example",
            Some(OrgAccess::Full),
            vec![],
        )
        .await;
    let (ro, rc) = signed_in(
        &app,
        "globex-acme",
        "ro@globex.example",
        Some(OrgAccess::ReadOnly),
    )
    .await;
    // A read-only admin reads explanations (no actions here).
    let p = get(
        &app,
        G,
        &format!("/portal/privileges?network={}", alpha.id),
        &rc,
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(row_of(&p.body, "ro@globex.example").contains("read-only on"));
    // Another tenant's admin or network: not found.
    let p = get(
        &app,
        G,
        &format!("/portal/privileges?admin={}", outsider.id),
        &rc,
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.body.contains("x@initech.example"));
    let p = get(
        &app,
        G,
        &format!("/portal/privileges?network={}", other.id),
        &rc,
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.body.contains("Elsewhere"));
    assert_eq!(
        get(&app, G, "/portal/privileges?org=initech-acme", &rc)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A monitor-only network admin may not list admins: core's refusal, in place.
    let mon = app
        .admin(
            "globex-acme",
            "mon@globex.example",
            None,
            vec![Grant {
                target: Target::Network(alpha.id.clone()),
                access: NetworkAccess::MonitorOnly,
            }],
        )
        .await;
    let mc = session(&app, "globex-acme", &mon.user_id).await;
    let p = get(&app, G, "/portal/privileges", &mc).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p
        .body
        .contains("listing admins needs org read-only access or full access on a network"));
    let p = get(&app, G, &format!("/portal/privileges?admin={}", ro.id), &mc).await;
    assert!(!p.body.contains("ro@globex.example"));
}
