//! `tenantry federation ...`: a tenant's upstream identity providers (issue 7 part 4):
//! add an OIDC provider, list, remove, and mark a declared e-mail domain verified
//! (decisions.md: the server's operator may, where DNS cannot be checked). Audited as `cli`.

use super::print_json;
use crate::core::audit::Actor;
use crate::core::federation::{Kind, NewConnection};
use crate::core::Core;
use crate::error::{Error, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Add an upstream identity provider.
    Add(Box<AddArgs>),
    /// List a tenant's identity providers.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Remove an identity provider (by id or name); the accounts it created stay, unlinked.
    Remove {
        #[arg(long)]
        tenant: String,
        connection: String,
    },
    /// Mark a declared e-mail domain verified.
    VerifyDomain {
        #[arg(long)]
        tenant: String,
        domain: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[arg(long)]
    tenant: String,
    /// The connection's name (its callback is {issuer}/federation/{name}/callback).
    #[arg(long)]
    name: String,
    /// oidc or saml.
    #[arg(long, default_value = "oidc")]
    kind: String,
    #[arg(long)]
    display_name: Option<String>,
    /// OIDC: the provider's issuer URL (https).
    #[arg(long)]
    issuer: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    /// OIDC: the client secret (stored encrypted); or TENANTRY_FEDERATION_CLIENT_SECRET.
    #[arg(
        long,
        env = "TENANTRY_FEDERATION_CLIENT_SECRET",
        hide_env_values = true
    )]
    client_secret: Option<String>,
    /// OIDC scopes besides openid (repeatable) [default: email profile].
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// SAML: the IdP's metadata file.
    #[arg(long)]
    metadata: Option<PathBuf>,
    /// The claim (or SAML attribute) whose values name role mappings [default: groups; role for SAML].
    #[arg(long)]
    claim: Option<String>,
    /// An e-mail domain that selects this provider on /login (repeatable).
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// Let a sign-in whose e-mail (in a verified domain) is an existing account link to it.
    #[arg(long)]
    allow_linking: bool,
}

pub async fn run(core: &Core, cmd: FederationCommand) -> Result<()> {
    match cmd {
        FederationCommand::Add(args) => {
            let AddArgs {
                tenant,
                name,
                kind,
                display_name,
                issuer,
                client_id,
                client_secret,
                scopes,
                metadata,
                claim,
                domains,
                allow_linking,
            } = *args;
            let t = core.find_tenant(&tenant).await?;
            let kind = match kind.as_str() {
                "oidc" => Kind::Oidc,
                "saml" => Kind::Saml,
                other => {
                    return Err(Error::invalid(
                        "invalid_kind",
                        format!("--kind is oidc or saml, not '{other}'"),
                    ))
                }
            };
            let metadata = match metadata {
                Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                    Error::invalid("metadata", format!("cannot read {}: {e}", path.display()))
                })?),
                None => None,
            };
            if kind == Kind::Saml {
                crate::federation::saml_sp::check_idp_metadata(
                    metadata.as_deref().unwrap_or_default(),
                )
                .map_err(|m| Error::invalid("invalid_metadata", m))?;
            }
            let new = NewConnection {
                name,
                display_name,
                kind,
                issuer,
                client_id,
                client_secret,
                scopes,
                metadata,
                claim,
                domains,
                allow_linking,
            };
            let c = core.create_connection(&t, new, &Actor::cli(), None).await?;
            print_json(&json!(c));
        }
        FederationCommand::List { tenant } => {
            let t = core.find_tenant(&tenant).await?;
            print_json(&json!(core.list_connections(&t).await?));
        }
        FederationCommand::Remove { tenant, connection } => {
            let t = core.find_tenant(&tenant).await?;
            core.delete_connection(&t, &connection, &Actor::cli(), None)
                .await?;
            print_json(&json!({"removed": connection}));
        }
        FederationCommand::VerifyDomain { tenant, domain } => {
            let t = core.find_tenant(&tenant).await?;
            print_json(&json!(
                core.verify_domain(&t, &domain, &Actor::cli(), None).await?
            ));
        }
    }
    Ok(())
}
