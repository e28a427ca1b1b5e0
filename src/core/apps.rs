//! The user's app list on `/account` (decisions.md "SAML and federation"): the tenant's
//! SAML service providers, each launched by IdP-initiated SSO, and its OIDC clients that
//! have an `initiate_login_uri`, each linked to it with `iss` (OpenID Connect Core §4,
//! third-party initiated login). Clients without one cannot be started from here and are
//! left out. Every user of the tenant may use every app: there is no per-user assignment.
//!
//! Speaks only our own types; must not import http, axum or a protocol adapter.

use super::{Core, Result};
use crate::tenancy::Tenant;

/// How an app is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// IdP-initiated SAML: a form POST (with CSRF) to `/account/apps/saml/{id}`.
    Saml { sp_id: String },
    /// A plain link to the client's initiate-login URI, `iss` added.
    Link { url: String },
}

#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub kind: &'static str,
    pub launch: Launch,
}

/// `{initiate_login_uri}?iss={issuer}` (keeping a query the URI already has).
pub fn initiate_login_link(initiate_login_uri: &str, issuer: &str) -> Option<String> {
    let mut url = url::Url::parse(initiate_login_uri).ok()?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return None;
    }
    url.query_pairs_mut().append_pair("iss", issuer);
    Some(url.to_string())
}

impl Core {
    /// The apps a signed-in user of `tenant` can start: SAML SPs first, then OIDC clients,
    /// each in registration order.
    pub async fn user_apps(&self, tenant: &Tenant) -> Result<Vec<App>> {
        let issuer = self.issuer(&tenant.name);
        let mut apps: Vec<App> = self
            .list_saml_sps(tenant)
            .await?
            .into_iter()
            .map(|sp| App {
                name: sp.entity_id,
                kind: "SAML",
                launch: Launch::Saml { sp_id: sp.id },
            })
            .collect();
        for c in self.list_clients(tenant).await? {
            let Some(uri) = c.initiate_login_uri.as_deref() else {
                continue;
            };
            if !c.allows_grant("authorization_code") {
                continue;
            }
            if let Some(url) = initiate_login_link(uri, &issuer) {
                apps.push(App {
                    name: c.name,
                    kind: "OpenID Connect",
                    launch: Launch::Link { url },
                });
            }
        }
        Ok(apps)
    }
}

#[cfg(test)]
mod tests {
    use super::initiate_login_link;

    #[test]
    fn adds_iss_to_the_initiate_login_uri() {
        assert_eq!(
            initiate_login_link("https://app.example/login?x=1", "http://t.localhost:8080")
                .as_deref(),
            Some("https://app.example/login?x=1&iss=http%3A%2F%2Ft.localhost%3A8080")
        );
        assert_eq!(initiate_login_link("javascript:alert(1)", "i"), None);
    }
}
