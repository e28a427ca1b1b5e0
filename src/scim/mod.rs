//! SCIM 2.0 (RFC 7643/7644). The grammar and schema modules are pure (`attrs`, `error`,
//! `filter`, `sql`, `patch`, `schema`); `routes` is the HTTP adapter over
//! `core::scim` at `{tenant host}/scim/v2`.

pub mod attrs;
pub mod error;
pub mod filter;
pub mod patch;
pub mod routes;
pub mod schema;
pub mod sql;
