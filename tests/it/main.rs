//! The one integration test binary. Every test runs on SQLite, and again on PostgreSQL when
//! `TENANTRY_TEST_PG_URL` names a server (the README's test command starts one); each test
//! gets its own database.

mod support;

mod cli;
mod config;
mod health;
mod migrations;
mod privileges;
mod server;
mod store;
mod tenancy;
