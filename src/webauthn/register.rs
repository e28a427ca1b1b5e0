//! The registration ceremony shared by the enrolment link and "add a passkey" on the
//! account page: options for a discoverable, user-verified credential, and verification
//! of the answer into our own [`NewPasskey`].

use super::{relying_party, user_handle, Failure, B64};
use crate::core::passkeys::{CeremonyKind, EnrolUser, NewPasskey};
use crate::core::Core;
use crate::tenancy::Tenant;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};
use webauthn_rs::prelude::{CredentialID, PasskeyRegistration, RegisterPublicKeyCredential};

/// Start a registration for `user`; the state goes to the database (bound to the link
/// when there is one). Answers `{"ceremony", "options"}`.
pub async fn begin(
    core: &Core,
    t: &Tenant,
    user: &EnrolUser,
    link: Option<&str>,
) -> Result<Response, Failure> {
    let rp = relying_party(core, t)?;
    let exclude: Vec<CredentialID> = user
        .credential_ids
        .iter()
        .filter_map(|c| B64.decode(c).ok())
        .collect();
    let shown = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.email.clone());
    let (options, state) = rp
        .start_passkey_registration(
            user_handle(t, &user.user_id),
            &user.email,
            &shown,
            (!exclude.is_empty()).then_some(exclude),
        )
        .map_err(|e| Failure::internal(format!("start registration: {e}")))?;
    let state = serde_json::to_string(&state).map_err(|e| Failure::internal(e.to_string()))?;
    let mut options =
        serde_json::to_value(&options).map_err(|e| Failure::internal(e.to_string()))?;
    // Usernameless login needs a discoverable credential; webauthn-rs's passkey defaults
    // only prefer one.
    if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection") {
        sel["residentKey"] = json!("required");
        sel["requireResidentKey"] = json!(true);
        sel["userVerification"] = json!("required");
    }
    let ceremony = core
        .begin_ceremony(t, CeremonyKind::Register, Some(&user.user_id), link, state)
        .await?;
    let mut resp = axum::Json(json!({"ceremony": ceremony, "options": options})).into_response();
    crate::oidc::no_store(resp.headers_mut());
    Ok(resp)
}

/// Verify a registration answer against its stored state. `Err(reason)` is audited by
/// the caller, with the failure to answer.
pub fn verify(
    core: &Core,
    t: &Tenant,
    state: &str,
    body: &Value,
) -> Result<Result<NewPasskey, (&'static str, Failure)>, Failure> {
    let state: PasskeyRegistration = serde_json::from_str(state)
        .map_err(|e| Failure::internal(format!("ceremony state: {e}")))?;
    let Ok(credential) =
        serde_json::from_value::<RegisterPublicKeyCredential>(body["credential"].clone())
    else {
        return Ok(Err((
            "malformed_credential",
            Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid_credential",
                "the passkey's answer is malformed",
            ),
        )));
    };
    let passkey = match relying_party(core, t)?.finish_passkey_registration(&credential, &state) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            return Ok(Err((
                "verification_failed",
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    "verification_failed",
                    "the passkey could not be verified",
                ),
            )));
        }
    };
    let json = serde_json::to_value(&passkey).map_err(|e| Failure::internal(e.to_string()))?;
    let flag = |p: &str| json.pointer(p).and_then(Value::as_bool).unwrap_or(false);
    Ok(Ok(NewPasskey {
        credential_id: B64.encode(AsRef::<[u8]>::as_ref(passkey.cred_id())),
        passkey: json.to_string(),
        name: passkey_name(&body["name"]),
        sign_count: json
            .pointer("/cred/counter")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        backup_eligible: flag("/cred/backup_eligible"),
        backup_state: flag("/cred/backup_state"),
    }))
}

pub fn ceremony_invalid() -> Failure {
    Failure::new(
        StatusCode::BAD_REQUEST,
        "ceremony_invalid",
        "this registration expired or was already used; start again",
    )
}

/// A passkey's name: trimmed, printable, at most 64 characters; "Passkey" by default.
fn passkey_name(v: &Value) -> String {
    let name: String = v
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "Passkey".into()
    } else {
        name.to_string()
    }
}
