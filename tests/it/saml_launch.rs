//! The user's app list on `/account` and IdP-initiated SAML SSO from it (issue 7,
//! decisions.md "SAML and federation"): SAML SPs with a launch form, OIDC clients with an
//! initiate-login URI as links, unsolicited signed responses to the SP's default ACS, and
//! the refusals (Origin, CSRF, no session, an SP that is not this tenant's).

use crate::passkeys::csrf_of;
use crate::saml::{form_value, sp_metadata, verified_response, world, World, ACS, G, SP};
use crate::support::Reply;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tenantry::core::audit::Actor;

const ORIGIN: &str = "http://globex-acme.localhost:8080";

impl World {
    async fn account(&self) -> Reply {
        self.app
            .request(
                Request::get("/account")
                    .header("host", G)
                    .header(
                        "cookie",
                        format!("{}={}", self.app.core.session_cookie_name(), self.cookie),
                    )
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
    }

    async fn launch(&self, id: &str, origin: &str, csrf: &str, cookie: bool) -> Reply {
        let mut req = Request::post(format!("/account/apps/saml/{id}"))
            .header("host", G)
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded");
        if cookie {
            req = req.header(
                "cookie",
                format!("{}={}", self.app.core.session_cookie_name(), self.cookie),
            );
        }
        self.app
            .request(
                req.body(Body::from(format!("csrf={csrf}")))
                    .expect("request"),
            )
            .await
    }

    async fn client(&self, name: &str, initiate: Option<&str>) {
        let t = self.app.core.find_tenant("globex-acme").await.expect("t");
        let mut new = json!({"name": name, "redirect_uris": ["https://rp.example/cb"]});
        if let Some(i) = initiate {
            new["initiate_login_uri"] = json!(i);
        }
        self.app
            .core
            .create_client(
                &t,
                serde_json::from_value(new).expect("client"),
                &Actor::cli(),
                None,
            )
            .await
            .expect("create client");
    }
}

#[tokio::test]
async fn the_account_page_lists_the_apps() {
    let w = world().await;
    // Without apps there is no section.
    assert!(!w.account().await.body.contains("Your applications"));
    let sp = w
        .register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    w.client("Wiki", Some("https://rp.example/start")).await;
    w.client("Backend", None).await;
    let page = w.account().await;
    assert_eq!(page.status, StatusCode::OK);
    for needle in [
        "<h2 id=\"apps-h\">Your applications</h2>".to_string(),
        format!("<strong>{SP}</strong> · SAML"),
        format!(
            "<form method=\"post\" action=\"/account/apps/saml/{}\">",
            sp.id
        ),
        "<strong>Wiki</strong> · OpenID Connect".to_string(),
        "href=\"https://rp.example/start?iss=http%3A%2F%2Fglobex-acme.localhost%3A8080\""
            .to_string(),
    ] {
        assert!(page.body.contains(&needle), "{needle} in {}", page.body);
    }
    assert!(
        !page.body.contains("Backend"),
        "no initiate-login URI: not listed"
    );
}

#[tokio::test]
async fn launch_posts_an_unsolicited_signed_response() {
    let w = world().await;
    let sp = w
        .register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    let cert = w.idp_cert().await;
    let csrf = csrf_of(&w.account().await.body);
    let r = w.launch(&sp.id, ORIGIN, &csrf, true).await;
    let xml = verified_response(&r, &cert);
    assert!(!xml.contains("InResponseTo"), "unsolicited: {xml}");
    for needle in [
        format!("Destination=\"{ACS}\""),
        format!("Recipient=\"{ACS}\""),
        format!("<saml:Audience>{SP}</saml:Audience>"),
        format!(">{}</saml:NameID>", w.user_id),
        format!(
            "<saml:AttributeValue xsi:type=\"xs:string\">{}:full</saml:AttributeValue>",
            w.net
        ),
    ] {
        assert!(xml.contains(&needle), "{needle} in {xml}");
    }
    assert!(form_value(&r.body, "RelayState").is_none());
}

#[tokio::test]
async fn launch_refusals() {
    let w = world().await;
    let sp = w
        .register("globex-acme", &sp_metadata(SP, None, false))
        .await;
    let theirs = w
        .register("initech-acme", &sp_metadata(SP, None, false))
        .await;
    let csrf = csrf_of(&w.account().await.body);
    // Wrong Origin, wrong CSRF token: 403 and no response.
    let r = w.launch(&sp.id, "https://evil.example", &csrf, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("SAMLResponse"));
    let r = w.launch(&sp.id, ORIGIN, "nope", true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("SAMLResponse"));
    // Nobody signed in: to the login.
    let r = w.launch(&sp.id, ORIGIN, &csrf, false).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/login");
    // Another tenant's SP, or none at all: an error page.
    for id in [theirs.id.as_str(), "ssp_missing"] {
        let r = w.launch(id, ORIGIN, &csrf, true).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(
            r.body.contains("error: this application is not registered"),
            "{}",
            r.body
        );
    }
}
