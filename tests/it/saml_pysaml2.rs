//! A real service provider against the IdP (issue 7 part 5): the PyPI package pysaml2,
//! driven step by step by `tests/saml/sp.py`. It makes its own key, certificate and
//! metadata, sends a signed HTTP-Redirect AuthnRequest, and validates the answer
//! (signatures, conditions, audience, InResponseTo, Destination) before it reads the
//! NameID and the privilege attributes; then it logs out over single logout.
//!
//! Runs only when `TENANTRY_PYSAML2_PYTHON` names a python with pysaml2 (and `xmlsec1` on
//! the PATH): `scripts/pysaml2-test.sh` builds that virtualenv and runs these tests. Without
//! it each test passes with a note. pysaml2 reads the real clock, so the server's clock is
//! moved to the real time first.

use crate::passkeys::{enrol, login, Device, HOST};
use crate::support::{TestApp, T0};
use axum::http::StatusCode;
use base64::Engine;
use serde_json::Value;
use tenantry::core::audit::Actor;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const SP_ENTITY: &str = "https://sp.pysaml2.test/saml";
const SLO: &str = "http://globex-acme.localhost:8080/saml/slo";

fn python() -> Option<String> {
    let p = std::env::var("TENANTRY_PYSAML2_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if p.is_none() {
        println!("skipped: TENANTRY_PYSAML2_PYTHON is not set (scripts/pysaml2-test.sh sets it)");
    }
    p
}

/// One pysaml2 SP: its state directory (key, certificate, the IdP's metadata).
pub(crate) struct PySp {
    python: String,
    dir: tempfile::TempDir,
}

impl PySp {
    /// `options` as sp.py's init takes them: "unsolicited", "noenc", comma-separated.
    pub(crate) fn new(python: &str, entity: &str, options: &str) -> (PySp, String) {
        let sp = PySp {
            python: python.to_string(),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let out = sp
            .run(&["init", entity, entity, options], None)
            .expect("sp.py init");
        let md = out["metadata"].as_str().expect("metadata").to_string();
        (sp, md)
    }

    /// Run a command of sp.py; Err(stderr) when pysaml2 refused.
    pub(crate) fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Value, String> {
        use std::io::Write;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/saml/sp.py");
        let mut child = std::process::Command::new(&self.python)
            .arg(script)
            .arg(self.dir.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sp.py");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.unwrap_or_default().as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("sp.py output");
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).expect("sp.py prints JSON"))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub(crate) async fn trust(&self, app: &TestApp, host: &str) {
        let md = app.get(host, "/saml/metadata").await;
        assert_eq!(md.status, StatusCode::OK);
        std::fs::write(self.dir.path().join("idp.xml"), md.body).expect("write idp.xml");
    }
}

/// The value of a hidden form field of an HTML page.
pub(crate) fn form_value(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(
        body[start..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&amp;", "&"),
    )
}

pub(crate) async fn get_with_cookie(
    app: &TestApp,
    host: &str,
    path: &str,
    cookie: &str,
) -> crate::support::Reply {
    app.request(
        axum::http::Request::get(path)
            .header("host", host)
            .header(
                "cookie",
                format!("{}={cookie}", app.core.session_cookie_name()),
            )
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await
}

pub(crate) fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

async fn register(app: &TestApp, tenant: &str, md: &str) -> tenantry::core::saml::SamlSp {
    let t = app.core.find_tenant(tenant).await.expect("tenant");
    let new = tenantry::saml::parse_sp_metadata(md).expect("pysaml2's metadata parses");
    app.core
        .register_saml_sp(&t, new, &Actor::cli(), None)
        .await
        .expect("register SP")
}

/// pysaml2 asks, the IdP answers with the session `cookie`; returns the request id and
/// the base64 SAMLResponse.
async fn sso_round(app: &TestApp, sp: &PySp, host: &str, cookie: &str) -> (String, String) {
    let req = sp.run(&["login"], None).expect("sp.py login");
    let url = req["url"].as_str().expect("url");
    let sso = format!("http://{host}/saml/sso?");
    let query = url.strip_prefix(&sso).expect("to the tenant's SSO URL");
    assert!(query.contains("&Signature="), "signed: {url}");
    let r = get_with_cookie(app, host, &format!("/saml/sso?{query}"), cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(&format!("action=\"{SP_ENTITY}/acs\"")),
        "{}",
        r.body
    );
    assert_eq!(
        form_value(&r.body, "RelayState").as_deref(),
        Some("/after-login")
    );
    let response = form_value(&r.body, "SAMLResponse").expect("SAMLResponse");
    (req["id"].as_str().expect("id").to_string(), response)
}

fn values(v: &Value, name: &str) -> Vec<String> {
    v["attributes"][name]
        .as_array()
        .unwrap_or_else(|| panic!("attribute {name} in {v}"))
        .iter()
        .map(|x| x.as_str().expect("string value").to_string())
        .collect()
}

/// Signs in with the software passkey at globex and returns (app, user id, cookie, net).
async fn signed_in() -> (TestApp, String, String, String) {
    let (app, path) = crate::passkeys::world().await;
    app.clock.advance(real_now() - T0);
    let net = app
        .core
        .create_network("globex-acme", "HQ", &["hq".into()], &Actor::cli())
        .await
        .expect("network")
        .id;
    let mut dev = Device::new();
    assert_eq!(enrol(&app, &mut dev, &path).await.status, StatusCode::OK);
    let r = login(&app, &mut dev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cookie = r.cookie.expect("session cookie");
    let t = app.core.find_tenant("globex-acme").await.expect("tenant");
    let session = app
        .core
        .session_from_cookie(&t, &cookie)
        .await
        .expect("session")
        .expect("a session");
    (app, session.user_id, cookie, net)
}

#[tokio::test]
async fn pysaml2_completes_sp_initiated_login() {
    let Some(py) = python() else { return };
    let (app, user_id, cookie, net) = signed_in().await;
    // pysaml2's metadata has a KeyDescriptor use="encryption": the assertion comes
    // encrypted, and pysaml2 decrypts it with its key.
    let (sp, md) = PySp::new(&py, SP_ENTITY, "");
    register(&app, "globex-acme", &md).await;
    sp.trust(&app, HOST).await;

    let (req_id, response) = sso_round(&app, &sp, HOST, &cookie).await;
    let xml = String::from_utf8(B64.decode(&response).expect("base64")).expect("utf-8");
    assert!(xml.contains("<saml:EncryptedAssertion>"), "{xml}");
    assert!(xml.contains("http://www.w3.org/2009/xmlenc11#aes256-gcm"));
    assert!(!xml.contains("pat@globex.example") && !xml.contains("<saml:Assertion"));
    let got = sp
        .run(&["verify", &req_id], Some(&response))
        .unwrap_or_else(|e| panic!("pysaml2 refused our response: {e}"));
    assert_eq!(got["encrypted"], true);
    assert_eq!(got["name_id"], user_id.as_str(), "{got}");
    assert_eq!(
        got["name_id_format"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    assert_eq!(got["issuer"], "http://globex-acme.localhost:8080");
    assert_eq!(got["in_response_to"], req_id.as_str());
    assert!(got["session_index"]
        .as_str()
        .is_some_and(|s| s.starts_with("ses_")));
    assert_eq!(values(&got, "email"), ["pat@globex.example"]);
    assert_eq!(values(&got, "tenant"), ["globex-acme"]);
    assert_eq!(values(&got, "org_access"), ["full"]);
    assert!(
        values(&got, "networks").contains(&format!("{net}:full")),
        "{got}"
    );
    assert!(got["attributes"].get("msp").is_none(), "{got}");

    // Refusals by pysaml2 itself: the same response for another request, and a tampered
    // assertion.
    let other = sp.run(&["login"], None).expect("login");
    let e = sp
        .run(
            &["verify", other["id"].as_str().expect("id")],
            Some(&response),
        )
        .expect_err("InResponseTo of another request");
    assert!(!e.is_empty());
    // The ciphertext changed: the response signature no longer holds.
    let at = xml.rfind("</xenc:CipherValue>").expect("cipher value") - 4;
    let flipped = if &xml[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &xml[..at], &xml[at + 1..]);
    let e = sp
        .run(&["verify", &req_id], Some(&B64.encode(tampered)))
        .expect_err("a tampered encrypted assertion is refused");
    assert!(e.to_lowercase().contains("signature"), "{e}");

    // MSP staff, at an SP without an encryption key (a plain signed assertion): the msp
    // attribute names the MSP and the role.
    let (msp_sp, md) = PySp::new(&py, SP_ENTITY, "noenc");
    register(&app, "acme", &md).await;
    msp_sp.trust(&app, "acme.localhost:8080").await;
    let acme = app.core.find_tenant("acme").await.expect("acme");
    let boss = app
        .core
        .list_admins(&acme)
        .await
        .expect("admins")
        .into_iter()
        .find(|a| a.email == "boss@acme.example")
        .expect("boss")
        .user_id;
    let (_, boss_cookie) = app
        .core
        .create_session(&acme, &boss, &["webauthn"], None)
        .await
        .expect("session");
    let (req_id, response) = sso_round(&app, &msp_sp, "acme.localhost:8080", &boss_cookie).await;
    let got = msp_sp
        .run(&["verify", &req_id], Some(&response))
        .unwrap_or_else(|e| panic!("pysaml2 refused the MSP response: {e}"));
    assert_eq!(got["encrypted"], false);
    assert_eq!(values(&got, "tenant"), ["acme"]);
    let msp: Value = serde_json::from_str(&values(&got, "msp")[0]).expect("msp is a JSON string");
    assert_eq!(msp["tenant"], "acme", "{got}");
    assert!(msp["role"].is_string(), "{got}");
    // A tampered plain assertion: refused by its signature.
    let xml = String::from_utf8(B64.decode(&response).expect("base64")).expect("utf-8");
    let tampered = xml.replace(
        ">acme</saml:AttributeValue>",
        ">globex-acme</saml:AttributeValue>",
    );
    assert_ne!(tampered, xml);
    let e = msp_sp
        .run(&["verify", &req_id], Some(&B64.encode(tampered)))
        .expect_err("a tampered response is refused");
    assert!(e.to_lowercase().contains("signature"), "{e}");
}

#[tokio::test]
async fn pysaml2_logs_out_over_single_logout() {
    let Some(py) = python() else { return };
    let (app, user_id, cookie, _) = signed_in().await;
    let (sp, md) = PySp::new(&py, SP_ENTITY, "");
    register(&app, "globex-acme", &md).await;
    sp.trust(&app, HOST).await;
    let (req_id, response) = sso_round(&app, &sp, HOST, &cookie).await;
    let got = sp
        .run(&["verify", &req_id], Some(&response))
        .expect("login");
    let session_index = got["session_index"].as_str().expect("session index");
    assert_eq!(got["name_id"], user_id.as_str());

    let req = sp
        .run(&["logout", &user_id, session_index], None)
        .expect("sp.py logout");
    let url = req["url"].as_str().expect("url");
    let query = url
        .strip_prefix(&format!("{SLO}?"))
        .unwrap_or_else(|| panic!("to the SLO URL: {url}"));
    let r = get_with_cookie(&app, HOST, &format!("/saml/slo?{query}"), &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(&format!("action=\"{SP_ENTITY}/slo\"")),
        "{}",
        r.body
    );
    let answer = form_value(&r.body, "SAMLResponse").expect("SAMLResponse");
    let out = sp
        .run(
            &["logout-response", req["id"].as_str().expect("id"), "post"],
            Some(&answer),
        )
        .unwrap_or_else(|e| panic!("pysaml2 refused our LogoutResponse: {e}"));
    assert_eq!(out["status"], "urn:oasis:names:tc:SAML:2.0:status:Success");
    assert_eq!(out["in_response_to"], req["id"]);
    assert_eq!(out["destination"], format!("{SP_ENTITY}/slo").as_str());
    // The session is over.
    let account = get_with_cookie(&app, HOST, "/account", &cookie).await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
}

/// IdP-initiated: the app list's launch form, an unsolicited response pysaml2 accepts when
/// configured for it and refuses otherwise.
#[tokio::test]
async fn pysaml2_accepts_an_idp_initiated_login_when_it_allows_unsolicited() {
    let Some(py) = python() else { return };
    let (app, user_id, cookie, _) = signed_in().await;
    let launch = |sp_id: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let page = get_with_cookie(app, HOST, "/account", &cookie).await;
            let csrf = crate::passkeys::csrf_of(&page.body);
            let r = crate::passkeys::send(
                app,
                "POST",
                HOST,
                &format!("/account/apps/saml/{sp_id}"),
                Some(crate::passkeys::ORIGIN),
                Some(&cookie),
                Some(("application/x-www-form-urlencoded", format!("csrf={csrf}"))),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            form_value(&r.text, "SAMLResponse").expect("SAMLResponse")
        }
    };
    let (sp, md) = PySp::new(&py, SP_ENTITY, "unsolicited");
    let registered = register(&app, "globex-acme", &md).await;
    sp.trust(&app, HOST).await;
    let response = launch(registered.id).await;
    let got = sp
        .run(&["verify", "-"], Some(&response))
        .unwrap_or_else(|e| panic!("pysaml2 refused the unsolicited response: {e}"));
    assert_eq!(got["name_id"], user_id.as_str());
    assert!(got["in_response_to"].is_null(), "{got}");
    assert_eq!(values(&got, "tenant"), ["globex-acme"]);

    let strict_entity = "https://strict.pysaml2.test/saml";
    let (strict, md) = PySp::new(&py, strict_entity, "");
    let registered = register(&app, "globex-acme", &md).await;
    strict.trust(&app, HOST).await;
    let response = launch(registered.id).await;
    assert!(strict.run(&["verify", "-"], Some(&response)).is_err());
}
