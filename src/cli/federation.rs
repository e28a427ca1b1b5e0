//! `tenantry federation ...`: a tenant's upstream identity providers (issue 7 part 4):
//! add an OIDC provider or a SAML IdP (metadata from a file, or from a URL fetched once),
//! list, remove; check a declared e-mail domain's DNS TXT record (the `dns_server`
//! setting, else the system resolver), or mark it verified by hand (decisions.md: the
//! server's operator may, where DNS cannot be checked). Audited as `cli`.

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
    /// Mark a declared e-mail domain verified by hand (where DNS cannot be checked).
    VerifyDomain {
        #[arg(long)]
        tenant: String,
        domain: String,
    },
    /// Verify a declared e-mail domain by its DNS TXT record `_tenantry.{domain}`.
    CheckDomain {
        #[arg(long)]
        tenant: String,
        /// The connection the domain belongs to (id or name).
        #[arg(long)]
        connection: String,
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
    #[arg(long, conflicts_with = "metadata_url")]
    metadata: Option<PathBuf>,
    /// SAML: or the IdP's metadata URL (https), fetched once now.
    #[arg(long)]
    metadata_url: Option<String>,
    /// Tests only: let the metadata URL be http and name a private or loopback address.
    #[arg(long)]
    allow_insecure_fetch: bool,
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
                metadata_url,
                allow_insecure_fetch,
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
            let mut new = NewConnection {
                name,
                display_name,
                kind,
                issuer,
                client_id,
                client_secret,
                scopes,
                metadata,
                metadata_url,
                claim,
                domains,
                allow_linking,
            };
            crate::federation::saml_sp::prepare_idp_metadata(&mut new, allow_insecure_fetch)
                .await?;
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
        FederationCommand::CheckDomain {
            tenant,
            connection,
            domain,
        } => {
            let t = core.find_tenant(&tenant).await?;
            let server = core.dns_server;
            let d = core
                .verify_domain_by_dns(
                    &t,
                    &connection,
                    &domain,
                    |name| crate::federation::dns::txt_records(server, name),
                    &Actor::cli(),
                    None,
                )
                .await?;
            print_json(&json!(d));
        }
    }
    Ok(())
}
