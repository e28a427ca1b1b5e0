//! `tenantry network ...`.

use super::print_json;
use crate::core::audit::Actor;
use crate::core::Core;
use crate::error::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network, optionally tagged.
    Create {
        #[arg(long)]
        tenant: String,
        name: String,
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// List a tenant's networks with their tags.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Define a port-management privilege on a network.
    AddPortPrivilege {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        network: String,
        name: String,
        /// Allow packet capture on these ports.
        #[arg(long)]
        capture: bool,
    },
}

pub async fn run(core: &Core, cmd: NetworkCommand) -> Result<()> {
    match cmd {
        NetworkCommand::Create { tenant, name, tags } => {
            print_json(
                &core
                    .create_network(&tenant, &name, &tags, &Actor::cli())
                    .await?,
            );
        }
        NetworkCommand::List { tenant } => {
            print_json(&core.list_networks(&tenant).await?);
        }
        NetworkCommand::AddPortPrivilege {
            tenant,
            network,
            name,
            capture,
        } => {
            core.add_port_privilege(&tenant, &network, &name, capture, &Actor::cli())
                .await?;
            print_json(
                &serde_json::json!({"network": network, "port_privilege": name, "capture": capture}),
            );
        }
    }
    Ok(())
}
