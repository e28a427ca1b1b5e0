//! Host -> tenant resolution through the real router.

use crate::support::test_app;
use axum::http::StatusCode;
use tenantry::core::audit::Actor;

#[tokio::test]
async fn two_tenants_resolved_by_host_and_unknown_hosts_refused() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex Corporation").await;
    app.customer("initech", "acme", "Initech").await;

    let g = app.get("globex-acme.localhost:8080", "/").await;
    assert_eq!(g.status, StatusCode::OK);
    assert!(g.body.contains("Globex Corporation"), "{}", g.body);
    assert!(g.body.contains("http://globex-acme.localhost:8080"));
    assert!(!g.body.contains("Initech"));

    // Port ignored, case and trailing dot normalised.
    let i = app.get("INITECH-ACME.localhost.", "/").await;
    assert_eq!(i.status, StatusCode::OK);
    assert!(i.body.contains("Initech") && !i.body.contains("Globex"));

    // Unknown label, a label looked up only whole, another domain, a deeper name: all 404
    // with one and the same body that names nothing.
    let unknown = app.get("hooli-acme.localhost:8080", "/").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for host in [
        "globex.localhost:8080",
        "evil.example",
        "x.globex-acme.localhost",
        "",
    ] {
        let r = app.get(host, "/").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "host {host:?}");
        assert_eq!(r.body, unknown.body, "host {host:?}");
    }
    for word in ["acme", "globex", "initech", "hooli", "tenant"] {
        assert!(
            !unknown.body.to_lowercase().contains(word),
            "{}",
            unknown.body
        );
    }

    // The bare base host gets a neutral landing page and nothing else.
    let base = app.get("localhost:8080", "/").await;
    assert_eq!(base.status, StatusCode::OK);
    assert!(!base.body.contains("acme") && !base.body.contains("globex"));
    assert_eq!(
        app.get("localhost:8080", "/enroll/x").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("127.0.0.1:8080", "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_cache_sees_other_processes_within_five_seconds_and_this_one_at_once() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    assert_eq!(
        app.get("acme.localhost:8080", "/").await.status,
        StatusCode::OK
    );

    // Another process (a second Core on the same database, with its own cache) creates a
    // customer: this process sees it once the re-check interval has passed.
    let other = tenantry::app::open(
        &app.env.config(),
        (*app.core.public_url).clone(),
        std::sync::Arc::new(app.clock.clone()),
    )
    .await
    .expect("second process");
    other
        .create_customer(
            tenantry::core::tenants::NewTenant {
                name: "globex",
                display_name: None,
                admin_email: None,
            },
            "acme",
            &Actor::cli(),
        )
        .await
        .expect("create customer");
    assert_eq!(
        app.get("globex-acme.localhost", "/").await.status,
        StatusCode::NOT_FOUND,
        "cached miss until the re-check"
    );
    app.clock.advance(5);
    assert_eq!(
        app.get("globex-acme.localhost", "/").await.status,
        StatusCode::OK
    );

    // A deletion by this process is seen at once.
    app.core
        .delete_tenant("globex-acme", false, &Actor::cli())
        .await
        .expect("delete");
    assert_eq!(
        app.get("globex-acme.localhost", "/").await.status,
        StatusCode::NOT_FOUND
    );
}
