//! `tenantry saml-sp ...`: register a tenant's SAML service providers from their metadata
//! XML (a file, or a URL fetched once), list and remove them.

use super::print_json;
use crate::core::audit::Actor;
use crate::core::Core;
use crate::error::{Error, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum SamlSpCommand {
    /// Register a service provider from its metadata (an md:EntityDescriptor): a file, or
    /// an https URL fetched once.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(
            long,
            conflicts_with = "metadata_url",
            required_unless_present = "metadata_url"
        )]
        metadata: Option<PathBuf>,
        #[arg(long)]
        metadata_url: Option<String>,
        /// Tests only: let the metadata URL be http and name a private or loopback address.
        #[arg(long)]
        allow_insecure_fetch: bool,
    },
    /// List a tenant's service providers.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Remove a service provider.
    Remove {
        #[arg(long)]
        tenant: String,
        /// The service provider's id (ssp_...).
        id: String,
    },
}

pub async fn run(core: &Core, cmd: SamlSpCommand) -> Result<()> {
    match cmd {
        SamlSpCommand::Add {
            tenant,
            metadata,
            metadata_url,
            allow_insecure_fetch,
        } => {
            let t = core.find_tenant(&tenant).await?;
            let new = match (metadata, metadata_url) {
                (Some(file), _) => {
                    let xml = std::fs::read_to_string(&file).map_err(|e| {
                        Error::invalid("metadata", format!("cannot read {}: {e}", file.display()))
                    })?;
                    crate::saml::parse_sp_metadata(&xml)
                        .map_err(|m| Error::invalid("metadata", m))?
                }
                (None, Some(url)) => crate::saml::fetch_sp_metadata(&url, allow_insecure_fetch)
                    .await
                    .map_err(|m| Error::invalid("metadata_url", m))?,
                (None, None) => {
                    return Err(Error::invalid(
                        "metadata",
                        "give --metadata or --metadata-url",
                    ))
                }
            };
            let sp = core.register_saml_sp(&t, new, &Actor::cli(), None).await?;
            print_json(&json!(sp));
        }
        SamlSpCommand::List { tenant } => {
            let t = core.find_tenant(&tenant).await?;
            print_json(&json!(core.list_saml_sps(&t).await?));
        }
        SamlSpCommand::Remove { tenant, id } => {
            let t = core.find_tenant(&tenant).await?;
            core.delete_saml_sp(&t, &id, &Actor::cli(), None).await?;
            print_json(&json!({"removed": id}));
        }
    }
    Ok(())
}
