//! `tenantry saml-sp ...`: register a tenant's SAML service providers from their metadata
//! XML, list and remove them.

use super::print_json;
use crate::core::audit::Actor;
use crate::core::Core;
use crate::error::{Error, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum SamlSpCommand {
    /// Register a service provider from its metadata file (an md:EntityDescriptor).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        metadata: PathBuf,
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
        SamlSpCommand::Add { tenant, metadata } => {
            let t = core.find_tenant(&tenant).await?;
            let xml = std::fs::read_to_string(&metadata).map_err(|e| {
                Error::invalid(
                    "metadata",
                    format!("cannot read {}: {e}", metadata.display()),
                )
            })?;
            let new =
                crate::saml::parse_sp_metadata(&xml).map_err(|m| Error::invalid("metadata", m))?;
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
