//! The account page's passkeys (add a second, remove one but never the last) and the
//! per-address failure limit of the sign-in endpoints; helpers in passkeys.rs.

use crate::passkeys::{
    audit_count, csrf_of, enrol, login, send, world, Device, HOST, ORIGIN, TENANT,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn account_adds_a_second_passkey_and_removes_one_but_not_the_last() {
    let (app, path) = world().await;
    let mut laptop = Device::new();
    let done = enrol(&app, &mut laptop, &path).await;
    let cookie = done.cookie.expect("cookie");
    let page = send(&app, "GET", HOST, "/account", None, Some(&cookie), None).await;
    assert!(page.text.contains("id=\"add-passkey\""));
    let csrf = csrf_of(&page.text);
    let json_post = |p: &'static str, body: Value, token: Option<String>| {
        let mut req = Request::post(p)
            .header("host", HOST)
            .header("origin", ORIGIN)
            .header("cookie", format!("tenantry_session={cookie}"))
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.body(Body::from(body.to_string())).expect("request")
    };
    // Without the CSRF header: refused.
    let r = app
        .request(json_post("/account/passkeys/start", json!({}), None))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .request(json_post(
            "/account/passkeys/start",
            json!({}),
            Some(csrf.clone()),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let start: Value = serde_json::from_str(&r.body).expect("json");
    // The existing credential is excluded.
    assert_eq!(
        start["options"]["publicKey"]["excludeCredentials"][0]["id"],
        json!(laptop.creds[0].0)
    );
    let mut phone = Device::new();
    let cred = phone.register(ORIGIN, &start["options"]);
    let r = app
        .request(json_post(
            "/account/passkeys/finish",
            json!({"ceremony": start["ceremony"], "credential": cred, "name": "Phone"}),
            Some(csrf.clone()),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The phone signs in too.
    assert_eq!(login(&app, &mut phone).await.status, StatusCode::OK);

    // Remove the laptop's passkey; the phone's, now the last, stays.
    let t = app.core.find_tenant(TENANT).await.expect("tenant");
    let admins = app.core.list_admins(&t).await.expect("admins");
    let keys = app
        .core
        .list_passkeys(&t, &admins[0].user_id)
        .await
        .expect("keys");
    assert_eq!(keys.len(), 2);
    let form = Some(("application/x-www-form-urlencoded", format!("csrf={csrf}")));
    let laptop_key = keys.iter().find(|k| k.name == "Laptop").expect("laptop");
    let r = send(
        &app,
        "POST",
        HOST,
        &format!("/account/passkeys/{}/remove", laptop_key.id),
        Some(ORIGIN),
        Some(&cookie),
        form.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = login(&app, &mut laptop).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let phone_key = keys.iter().find(|k| k.name == "Phone").expect("phone");
    let r = send(
        &app,
        "POST",
        HOST,
        &format!("/account/passkeys/{}/remove", phone_key.id),
        Some(ORIGIN),
        Some(&cookie),
        form,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(audit_count(&app, "passkey.remove", "").await, 1);
}

#[tokio::test]
async fn failures_from_one_address_are_rate_limited() {
    let (app, path) = world().await;
    let from = |ip: &str, p: &str, body: Value| {
        let mut req = Request::post(p)
            .header("host", HOST)
            .header("origin", ORIGIN)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let addr: std::net::SocketAddr = format!("{ip}:40000").parse().expect("addr");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        req
    };
    let bogus = json!({"ceremony": "wac_nope", "credential": {}});
    for _ in 0..20 {
        let r = app
            .request(from("192.0.2.1", "/login/finish", bogus.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    }
    let r = app
        .request(from("192.0.2.1", "/login/start", json!({})))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let r = app
        .request(from("192.0.2.1", &format!("{path}/start"), json!({})))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(audit_count(&app, "login.rate_limited", "").await >= 2);
    // Another address is unaffected; the window passes.
    let r = app
        .request(from("192.0.2.2", "/login/start", json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.clock.advance(15 * 60 + 1);
    let r = app
        .request(from("192.0.2.1", "/login/start", json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
