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
mod federation;
mod federation_admin;
mod federation_cache;
mod federation_dns;
mod federation_forged;
mod federation_limit;
mod federation_msp;
mod federation_saml;
mod federation_saml_url;
mod health;
mod mail;
mod mappings;
mod migrations;
mod oidc;
mod oidc_cache;
mod openapi;
mod passkeys;
mod passkeys_account;
mod passkeys_chain;
mod passkeys_policy;
mod portal;
mod privileges;
mod saml;
mod saml_encrypt;
mod saml_keys;
mod saml_launch;
mod saml_metadata_url;
mod saml_pysaml2;
mod saml_refusals;
mod saml_slo;
mod saml_support;
mod scim;
mod server;
mod staff;
mod staff_mapped;
mod store;
mod tenancy;
