//! Placeholder: filled in by the staff work.

use crate::app::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
