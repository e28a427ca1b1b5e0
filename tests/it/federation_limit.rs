//! Refused federated sign-ins count toward the per-address failure limit shared with
//! passkey sign-in: after 20 refusals from one address within 15 minutes the address is
//! refused (429, audited) before anything else, even with a valid start, and the passkey
//! sign-in of that tenant sees the same limit.

use crate::federation::{world, Browser};
use reqwest::StatusCode;

#[tokio::test]
async fn federation_refusals_count_toward_the_address_limit() {
    let w = world().await;
    let down = w.core.find_tenant("downco").await.expect("downco");
    let mut b = Browser::new(w.port);
    let ok = b.get(&w.down("/federation/start?connection=corp")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "a start is no failure");
    for i in 0..20 {
        assert!(
            !w.core
                .client_rate_limited(&down, "127.0.0.1")
                .await
                .expect("limit"),
            "limited after {i} refusals"
        );
        let a = b
            .get(&w.down("/federation/corp/callback?code=abc&state=nonsense"))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    }
    assert!(w
        .core
        .client_rate_limited(&down, "127.0.0.1")
        .await
        .expect("limit"));
    let a = b.get(&w.down("/federation/start?connection=corp")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert!(a.body.contains("too many failed attempts"), "{}", a.body);
    let a = b
        .http
        .post(w.down("/saml/sp/acs"))
        .form(&[("SAMLResponse", "x")])
        .send()
        .await
        .expect("acs");
    assert_eq!(a.status(), StatusCode::TOO_MANY_REQUESTS);
    // The passkey sign-in of the tenant is under the same limit.
    let a = b
        .http
        .post(w.down("/login/start"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("passkey start");
    assert_eq!(a.status(), StatusCode::TOO_MANY_REQUESTS);
    let limited =
        "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = 'login.rate_limited'";
    assert!(w.count(limited, "downco").await >= 3);
    // Another tenant's limit is its own.
    let up = w.core.find_tenant("upco").await.expect("upco");
    assert!(!w
        .core
        .client_rate_limited(&up, "127.0.0.1")
        .await
        .expect("limit"));
}
