//! The one integration test binary. Every test runs on SQLite, and again on PostgreSQL when
//! `TENANTRY_TEST_PG_URL` names a server (the README's test command starts one); each test
//! gets its own database.

mod support;

mod api;
mod cli;
mod clients;
mod config;
mod customers;
mod delegations;
mod health;
mod mail;
mod mappings;
mod migrations;
mod oidc;
mod openapi;
mod passkeys;
mod passkeys_policy;
mod portal;
mod privileges;
mod saml;
mod scim;
mod server;
mod staff;
mod store;
mod tenancy;
