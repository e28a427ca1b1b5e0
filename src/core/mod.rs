//! Domain services: tenants, networks, admins, audit, secrets. Thin handlers and CLI
//! commands call one function here each.
//!
//! Imports store and authz, never http, axum or a protocol adapter. Every write runs in
//! one transaction whose first statement re-checks (and version-bumps) the tenant.

pub mod admins;
pub mod apikeys;
pub mod apps;
pub mod audit;
pub mod clients;
pub mod customers;
pub mod delegations;
pub mod exchange;
pub mod federation;
pub mod federation_domains;
pub mod federation_login;
pub mod insight;
pub mod keys;
pub mod mail;
pub mod manage;
pub mod mappings;
pub mod networks;
pub mod passkeys;
pub mod portal;
pub mod privileges;
pub mod saml;
pub mod saml_keys;
pub mod scim;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod signing;
pub mod staff;
pub mod standing;
pub mod tenants;
pub mod tokens;

use crate::clock::SharedClock;
use crate::config::PublicUrl;
use crate::store::Store;
use crate::tenancy::TenantCache;
use std::sync::Arc;

pub use crate::error::{Error, Result};

/// The services' shared context.
#[derive(Clone)]
pub struct Core {
    pub store: Store,
    pub clock: SharedClock,
    pub keys: Arc<secrets::MasterKey>,
    pub tenants: Arc<TenantCache>,
    /// Shared: the state is cloned per request, and a clone must not allocate.
    pub public_url: Arc<PublicUrl>,
    pub key_cache: Arc<signing::KeyCache>,
    pub token_cache: Arc<tokens::VerifiedTokens>,
    pub client_cache: Arc<clients::ClientCache>,
    /// Outgoing e-mail (enrolment links); see [`Core::with_mailer`].
    pub mail: Arc<mail::Mailer>,
    /// `serve --allow-insecure-fetch` (tests only, decisions.md): discovery and metadata
    /// URLs may be http and name private or loopback addresses.
    pub allow_insecure_fetch: bool,
    /// The DNS server that domain verification asks (`dns_server` setting); None: the
    /// system resolver.
    pub dns_server: Option<std::net::SocketAddr>,
}

impl Core {
    pub fn new(
        store: Store,
        clock: SharedClock,
        keys: secrets::MasterKey,
        public_url: PublicUrl,
    ) -> Self {
        let tenants = Arc::new(TenantCache::new(store.clone(), clock.clone()));
        Core {
            store,
            clock,
            keys: Arc::new(keys),
            tenants,
            public_url: Arc::new(public_url),
            key_cache: Arc::new(signing::KeyCache::default()),
            token_cache: Arc::new(tokens::VerifiedTokens::default()),
            client_cache: Arc::new(clients::ClientCache::default()),
            mail: Arc::new(mail::Mailer::disabled()),
            allow_insecure_fetch: false,
            dns_server: None,
        }
    }

    /// Allow http and private addresses for discovery and metadata fetches (tests only).
    pub fn with_insecure_fetch(mut self, allow: bool) -> Self {
        self.allow_insecure_fetch = allow;
        self
    }

    /// Ask this DNS server when verifying domains (None: the system resolver).
    pub fn with_dns_server(mut self, server: Option<std::net::SocketAddr>) -> Self {
        self.dns_server = server;
        self
    }

    /// Use this mailer (`app::open` sets the configured outbox or SMTP one).
    pub fn with_mailer(mut self, mailer: mail::Mailer) -> Self {
        self.mail = Arc::new(mailer);
        self
    }

    /// A tenant's issuer (and origin): `{scheme}://{name}.{host}[:port]`.
    pub fn issuer(&self, tenant_name: &str) -> String {
        self.public_url.tenant_origin(tenant_name)
    }
}
