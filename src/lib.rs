//! tenantry: a multi-tenant identity provider for managed service providers.
//!
//! # How a request flows
//!
//! `app::router` builds `app::App`, which puts every request through
//! `http::middleware::Pipeline`: it assigns a request id, classifies the Host header
//! (`tenancy::names`: the bare base host, a tenant label looked up whole in
//! `tenancy::TenantCache`, or anything else = 404), applies idempotency keys to admin API
//! POSTs, then hands the request to a thin handler, which takes the `CurrentTenant` and
//! calls one function of `core`. `POST /oauth2/token` reaches its endpoint straight from
//! `App`; every other request is routed by the axum Router, each route behind the pipeline. Core opens a transaction in `store`, asks `authz` for privilege decisions, and
//! appends to the tenant's audit chain. Errors travel as `error::Error` and each protocol
//! turns them into its own wire format (`http::error::ApiError` for the admin API).
//!
//! # Which module may import which
//!
//! - `authz`, `tenancy::names`, `config`, `clock`, `ids`, `jws`, `error`: pure, nothing async.
//! - `store`: sqlx only; never core, http or axum.
//! - `core`: store, authz, tenancy; never http or axum.
//! - `scim::{attrs,error,filter,sql,patch,schema}`: pure as well (core uses them).
//! - `http`, `cli`, and the protocol adapters (`oidc`, `saml`, `scim::routes`, `webauthn`,
//!   `federation`, `portal`): core. Library types stay inside their adapter.
#![forbid(unsafe_code)]

pub mod app;
pub mod authz;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod error;
pub mod federation;
pub mod http;
pub mod ids;
pub mod jws;
pub mod oidc;
pub mod portal;
pub mod saml;
pub mod scim;
pub mod store;
pub mod tenancy;
pub mod webauthn;
