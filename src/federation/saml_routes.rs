//! Signing in through an upstream SAML IdP: the AuthnRequest sent by HTTP-Redirect (its id
//! stored server-side, single use, 10 min), `/saml/sp/acs` where the IdP posts back (a
//! cross-site POST: correlated by the stored request id, never by a cookie; product.md
//! "Sign-in"), and `/saml/sp/metadata`, our SP metadata for the IdP to register.
//! Unsolicited responses, replays and anything the adapter refuses end on an error page,
//! audited, with nothing else changed.

use super::saml_sp;
use super::{error_page, signed_in};
use crate::app::AppState;
use crate::core::federation::{Connection, Kind};
use crate::core::federation_login::PendingSignIn;
use crate::http::middleware::{CurrentTenant, RequestId};
use crate::tenancy::Tenant;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use std::collections::HashMap;
use std::sync::Arc;

/// Our entityID toward upstream IdPs and our ACS.
fn sp_urls(s: &AppState, t: &Tenant) -> (String, String) {
    let issuer = s.core.issuer(&t.name);
    (format!("{issuer}/saml/sp"), format!("{issuer}/saml/sp/acs"))
}

async fn refuse(
    s: &AppState,
    t: &Tenant,
    c: Option<&Connection>,
    rid: &RequestId,
    code: &str,
    message: &str,
) -> Response {
    if let Err(e) = s
        .core
        .federation_refused(t, c, code, Some(rid.as_str()))
        .await
    {
        tracing::error!(error = %e, "auditing a refused federated sign-in");
    }
    super::counted(
        error_page(&t.display_name, StatusCode::BAD_REQUEST, message),
        code,
    )
}

fn broken(t: &Tenant, e: &crate::error::Error) -> Response {
    tracing::error!(error = %e, "SAML federation");
    error_page(
        &t.display_name,
        StatusCode::INTERNAL_SERVER_ERROR,
        "something went wrong on our side",
    )
}

pub async fn metadata_doc(State(s): State<AppState>, CurrentTenant(t): CurrentTenant) -> Response {
    let (entity_id, acs) = sp_urls(&s, &t);
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        saml_sp::sp_metadata(&entity_id, &acs),
    )
        .into_response()
}

/// Send the browser to the IdP with a fresh AuthnRequest.
pub async fn start(
    s: &AppState,
    t: &Tenant,
    rid: &RequestId,
    connection: &Connection,
    pending: Option<String>,
) -> Response {
    let (entity_id, acs) = sp_urls(s, t);
    let request_id = format!("_{}", s.core.new_federation_state());
    let metadata = connection.metadata.as_deref().unwrap_or_default();
    let url = match saml_sp::authn_request_url(
        metadata,
        &entity_id,
        &acs,
        &request_id,
        s.core.clock.now(),
    ) {
        Ok(u) => u,
        Err(r) => return refuse(s, t, Some(connection), rid, r.code, &r.message).await,
    };
    let sign_in = PendingSignIn {
        connection_id: connection.id.clone(),
        nonce: None,
        pkce_verifier: None,
        pending,
    };
    if let Err(e) = s
        .core
        .begin_federated_sign_in(t, &request_id, sign_in, false)
        .await
    {
        return broken(t, &e);
    }
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(loc) = HeaderValue::from_str(&url) {
        h.insert(header::LOCATION, loc);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    crate::oidc::no_store(h);
    resp
}

/// `POST /saml/sp/acs`: the IdP's HTTP-POST answer.
pub async fn acs(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    super::ClientAddr(client): super::ClientAddr,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let step = acs_step(s.clone(), t.clone(), rid.clone(), form);
    super::limited(&s, &t, &client, &rid, step).await
}

async fn acs_step(
    s: AppState,
    t: Arc<Tenant>,
    rid: RequestId,
    form: HashMap<String, String>,
) -> Response {
    let encoded = form
        .get("SAMLResponse")
        .map(String::as_str)
        .unwrap_or_default();
    let xml = match saml_sp::decode_response(encoded) {
        Ok(x) => x,
        Err(r) => return refuse(&s, &t, None, &rid, r.code, &r.message).await,
    };
    let Some(request_id) = saml_sp::claimed_request_id(&xml) else {
        return refuse(
            &s,
            &t,
            None,
            &rid,
            "unsolicited",
            "this SAML response answers no sign-in started here (unsolicited responses are refused)",
        )
        .await;
    };
    let sign_in = match s.core.take_federated_request(&t, &request_id).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return refuse(
                &s,
                &t,
                None,
                &rid,
                "request_unknown",
                "this SAML response answers no pending sign-in (expired, already used, or never started)",
            )
            .await
        }
        Err(e) => return broken(&t, &e),
    };
    let connection = match s.core.connection(&t, &sign_in.connection_id).await {
        Ok(c) if c.kind == Kind::Saml => c,
        Ok(_) | Err(crate::error::Error::NotFound) => {
            return refuse(&s, &t, None, &rid, "no_connection", "no such connection").await
        }
        Err(e) => return broken(&t, &e),
    };
    let (entity_id, acs) = sp_urls(&s, &t);
    let verified = saml_sp::verify_response(
        &xml,
        connection.metadata.as_deref().unwrap_or_default(),
        &entity_id,
        &acs,
        &request_id,
        &connection.claim,
        s.core.clock.now(),
    );
    let verified = match verified {
        Ok(v) => v,
        Err(r) => return refuse(&s, &t, Some(&connection), &rid, r.code, &r.message).await,
    };
    match s
        .core
        .consume_federated_assertion(&t, &connection, &verified.assertion_id, verified.expires_at)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                &s,
                &t,
                Some(&connection),
                &rid,
                "assertion_replayed",
                "this assertion was already used",
            )
            .await
        }
        Err(e) => return broken(&t, &e),
    }
    signed_in(&s, &t, &rid, &connection, verified.user, sign_in.pending).await
}
