//! The organization switcher's search field: part of a name or display name, any case;
//! one match switches (through the customer host's `/switch/start`), several ask for more,
//! none and organizations out of reach are refused, and the text is shown escaped.

use super::{assert_accessible, get, msp, M};
use crate::support::test_app;
use axum::http::StatusCode;

#[tokio::test]
async fn the_switcher_finds_an_organization_by_part_of_its_name() {
    let app = test_app().await;
    let (_, cookie) = msp(&app).await;
    let p = get(&app, M, "/portal/customers", &cookie).await;
    assert_accessible(&p);
    assert!(p.body.contains("<datalist id=\"org-list\">"), "suggestions");
    assert!(p.body.contains("<label for=\"org-find\">"), "labelled");
    let to_globex = Some("http://globex-acme.localhost:8080/switch/start?to=globex-acme");
    // A suggestion chosen from the list is the exact name; a typed part of the display name
    // in another case finds the same organization; the search wins over the list.
    for find in ["globex-acme", "gLoB", "%20globex%20"] {
        let s = get(
            &app,
            M,
            &format!("/portal/switch?to=initech-acme&find={find}"),
            &cookie,
        )
        .await;
        assert_eq!(s.location.as_deref(), to_globex, "find={find}");
    }
    // An empty search leaves the list's choice.
    let s = get(&app, M, "/portal/switch?to=initech-acme&find=", &cookie).await;
    assert_eq!(
        s.location.as_deref(),
        Some("http://initech-acme.localhost:8080/switch/start?to=initech-acme")
    );
    // "ACM" is in every name here: several matches ask for more, and change nothing.
    let s = get(&app, M, "/portal/switch?find=ACM", &cookie).await;
    assert_eq!(s.status, StatusCode::BAD_REQUEST, "{}", s.body);
    assert!(s.body.contains("type more of the name"), "{}", s.body);
    assert!(s.location.is_none());
    // No match, escaped in the answer.
    let s = get(&app, M, "/portal/switch?find=%3Cb%3Ehooli", &cookie).await;
    assert_eq!(s.status, StatusCode::NOT_FOUND);
    assert!(s.body.contains("&lt;b&gt;hooli"), "{}", s.body);
    assert!(!s.body.contains("<b>hooli"));
}
