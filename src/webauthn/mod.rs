//! Placeholder: passkey sign-in (webauthn-rs adapter, enrolment, login and account pages).

use crate::app::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
