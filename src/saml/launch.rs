//! IdP-initiated SSO (saml-profiles-2.0-os §4.1.5, unsolicited responses) from the user's
//! app list on `/account`: the account page's form (Origin and CSRF checked there) lands
//! here with the signed-in session, and the SP gets a signed Response without InResponseTo
//! at its default HTTP-POST AssertionConsumerService.

use super::error_page;
use super::sso::{answer_to, Target};
use crate::app::AppState;
use crate::core::saml::{SamlSp, BINDING_POST};
use crate::core::sessions::Session;
use crate::error::Error;
use crate::tenancy::Tenant;
use axum::response::Response;

/// The default ACS (saml-metadata-2.0-os §2.2.3): the HTTP-POST endpoint marked
/// `isDefault`, else the first HTTP-POST endpoint.
fn default_acs(sp: &SamlSp) -> Option<String> {
    let post = || sp.acs.iter().filter(|a| a.binding == BINDING_POST);
    post()
        .find(|a| a.is_default)
        .or_else(|| post().next())
        .map(|a| a.location.clone())
}

/// An unsolicited, signed Response for the SP `sp_id` of this tenant, posted to its
/// default ACS; an error page when the SP is not this tenant's.
pub async fn launch(s: &AppState, t: &Tenant, session: &Session, sp_id: &str) -> Response {
    let sp = match s.core.saml_sp(t, sp_id).await {
        Ok(sp) => sp,
        Err(Error::NotFound) => {
            return error_page(
                &t.display_name,
                "this application is not registered with this organization",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "SAML SP lookup");
            return error_page(
                &t.display_name,
                "the application could not be started; try again",
            );
        }
    };
    let Some(acs_url) = default_acs(&sp) else {
        return error_page(
            &t.display_name,
            "the service provider has no HTTP-POST AssertionConsumerService",
        );
    };
    tracing::info!(sp = %sp.id, "SAML IdP-initiated SSO");
    let target = Target {
        sp_entity_id: sp.entity_id,
        acs_url,
        in_response_to: None,
        relay_state: None,
    };
    answer_to(s, t, session, &target).await
}
