//! What every portal page and POST shares: no page without a session of this host (a
//! redirect to `/login`), the stylesheet, and the refusals of a POST without the exact
//! Origin or the session's CSRF token.

use super::{csrf, get, msp, post, send, session, G, M, M_ORIGIN};
use crate::support::test_app;
use axum::http::StatusCode;

#[tokio::test]
async fn portal_pages_need_a_session_of_this_host() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    for path in [
        "/portal",
        "/portal/customers",
        "/portal/admins",
        "/portal/customers/globex-acme/delete",
    ] {
        let p = send(&app, "GET", M, path, None, None, None).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location.as_deref(), Some("/login"), "{path}");
        let p = send(&app, "GET", M, path, Some("tnt_ses_bogus"), None, None).await;
        assert_eq!(p.location.as_deref(), Some("/login"), "{path}");
    }
    // A session belongs to its own host only.
    let p = get(&app, G, "/portal/admins", &cookie).await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    let p = get(&app, M, "/portal", &cookie).await;
    assert_eq!(p.location.as_deref(), Some("/portal/customers"));
    let css = app.get(M, "/static/portal.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.contains("@media (max-width:600px)"));
}

#[tokio::test]
async fn posts_need_the_origin_and_the_csrf_token() {
    let app = test_app().await;
    let (boss, cookie) = msp(&app).await;
    let token = csrf(&get(&app, M, "/portal/customers", &cookie).await.body);
    let fields = [("csrf", token.as_str()), ("name", "hooli")];
    let p = send(
        &app,
        "POST",
        M,
        "/portal/customers",
        Some(&cookie),
        None,
        Some(&fields),
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("did not come from this organization"));
    for origin in [
        "http://globex-acme.localhost:8080",
        "null",
        "http://evil.example",
    ] {
        let p = send(
            &app,
            "POST",
            M,
            "/portal/customers",
            Some(&cookie),
            Some(origin),
            Some(&fields),
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{origin}");
    }
    let p = post(&app, M, "/portal/customers", &cookie, &[("name", "hooli")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("this form expired"));
    // Another session's token is not this one's.
    let other = session(&app, "acme", &boss).await;
    let p = post(&app, M, "/portal/customers", &other, &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = post(
        &app,
        M,
        "/portal/admins",
        &cookie,
        &[("email", "x@acme.example"), ("org_access", "full")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Without a session a POST goes to sign-in, and nothing was created.
    let p = send(
        &app,
        "POST",
        M,
        "/portal/customers",
        None,
        Some(M_ORIGIN),
        Some(&fields),
    )
    .await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    assert!(app.core.find_tenant("hooli-acme").await.is_err());
}
