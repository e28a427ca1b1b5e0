//! `/enroll/{token}`: register a passkey from an enrolment link. A GET never consumes the
//! link (mail scanners open links); only a verified registration does.

use super::{
    check_origin, json_body, limited, pages, register, signed_in, Answer, Client, Failure,
};
use crate::app::AppState;
use crate::core::passkeys::CeremonyKind;
use crate::http::escape_html;
use crate::http::middleware::{CurrentTenant, RequestId};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

const INVALID_LINK: &str =
    "this enrolment link is not valid: it has expired, was replaced, or was already used";

pub async fn page(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    Path(token): Path<String>,
) -> Result<Response, Failure> {
    let Some(user) = s.core.enrolment_target(&t, &token).await? else {
        return Ok(pages::token_page(
            StatusCode::NOT_FOUND,
            &t.display_name,
            "Enrolment",
            &format!(
                "<h1>Set up your passkey for {}</h1>{}",
                escape_html(&t.display_name),
                pages::status(&format!("error: {INVALID_LINK}"))
            ),
        ));
    };
    let body = format!(
        "<h1>Set up your passkey for {org}</h1>\
         <p>Signed in as <strong>{email}</strong> once your passkey is registered.</p>\
         <p><label for=\"passkey-name\">Name for this passkey</label> \
         <input id=\"passkey-name\" name=\"name\" type=\"text\" maxlength=\"64\" value=\"Passkey\" autocomplete=\"off\"></p>\
         <p><button id=\"register\" type=\"button\" data-base=\"/enroll/{token}\">Register a passkey</button></p>{status}",
        org = escape_html(&t.display_name),
        email = escape_html(&user.email),
        token = escape_html(&token),
        status = pages::status("ready"),
    );
    Ok(pages::token_page(
        StatusCode::OK,
        &t.display_name,
        "Enrolment",
        &body,
    ))
}

pub async fn start(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    Path(token): Path<String>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let step = start_step(s.clone(), t.clone(), rid.clone(), token, headers, body);
    limited(&s.core, &t, &client, &rid, step).await
}

async fn start_step(
    s: AppState,
    t: std::sync::Arc<crate::tenancy::Tenant>,
    rid: RequestId,
    token: String,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_origin(&s.core, &t, &headers, &rid).await?;
    json_body(&headers, &body)?;
    let Some(user) = s.core.enrolment_target(&t, &token).await? else {
        s.core
            .audit_refusal(
                &t,
                "enrolment.failure",
                None,
                "invalid_link",
                Some(rid.as_str()),
            )
            .await?;
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "link_invalid",
            INVALID_LINK,
        ));
    };
    register::begin(&s.core, &t, &user, Some(&token)).await
}

pub async fn finish(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    Path(token): Path<String>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let step = finish_step(s.clone(), t.clone(), rid.clone(), token, headers, body);
    limited(&s.core, &t, &client, &rid, step).await
}

async fn finish_step(
    s: AppState,
    t: std::sync::Arc<crate::tenancy::Tenant>,
    rid: RequestId,
    token: String,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_origin(&s.core, &t, &headers, &rid).await?;
    let body = json_body(&headers, &body)?;
    let ceremony = body["ceremony"].as_str().unwrap_or_default();
    let taken = s
        .core
        .take_ceremony(&t, ceremony, CeremonyKind::Register, Some(&token))
        .await?;
    let Some((Some(user), state)) = taken else {
        s.core
            .audit_refusal(
                &t,
                "enrolment.failure",
                None,
                "ceremony_invalid",
                Some(rid.as_str()),
            )
            .await?;
        return Err(register::ceremony_invalid());
    };
    let new = match register::verify(&s.core, &t, &state, &body)? {
        Ok(new) => new,
        Err((reason, failure)) => {
            s.core
                .audit_refusal(
                    &t,
                    "enrolment.failure",
                    Some(&user),
                    reason,
                    Some(rid.as_str()),
                )
                .await?;
            return Err(failure);
        }
    };
    let (session, secret) = match s
        .core
        .finish_enrolment(&t, &token, &user, new, Some(rid.as_str()))
        .await
    {
        Ok(done) => done,
        Err(e) => {
            s.core
                .audit_refusal(
                    &t,
                    "enrolment.failure",
                    Some(&user),
                    "not_stored",
                    Some(rid.as_str()),
                )
                .await?;
            return Err(e.into());
        }
    };
    Ok(signed_in(
        &s.core,
        &session,
        &secret,
        json!({"status": "registered", "next": "/account"}),
    ))
}
