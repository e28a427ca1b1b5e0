//! `tenantry msp ...` and `tenantry tenant ...`.

use super::print_json;
use crate::core::audit::Actor;
use crate::core::tenants::NewTenant;
use crate::core::Core;
use crate::error::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum MspCommand {
    /// Create an MSP; --admin-email becomes its first super-user.
    Create {
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Offboard an MSP user everywhere: staff role, every delegation in every customer,
    /// API keys and the MSP admin membership; prints what was revoked.
    Offboard {
        #[arg(long)]
        msp: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create customer NAME of --msp (host {name}-{msp}), or a standalone org without --msp.
    Create {
        name: String,
        #[arg(long)]
        msp: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// First local admin (org full); required for a standalone org.
        #[arg(long)]
        admin_email: Option<String>,
    },
    /// List tenants, or the customers of one MSP.
    List {
        #[arg(long)]
        msp: Option<String>,
    },
    /// Delete a tenant and everything it owns; its name is quarantined for 30 days.
    Delete {
        name: String,
        /// Also delete an MSP's customers.
        #[arg(long)]
        cascade: bool,
    },
    /// Lift a deleted tenant name's quarantine early.
    PurgeName { name: String },
}

pub async fn run_msp(core: &Core, cmd: MspCommand) -> Result<()> {
    match cmd {
        MspCommand::Create {
            name,
            admin_email,
            display_name,
        } => {
            let created = core
                .create_msp(
                    NewTenant {
                        name: &name,
                        display_name: display_name.as_deref(),
                        admin_email: Some(&admin_email),
                    },
                    &Actor::cli(),
                )
                .await?;
            print_json(&created);
        }
        MspCommand::Offboard { msp, email } => {
            print_json(&core.cli_offboard(&msp, &email).await?);
        }
    }
    Ok(())
}

pub async fn run_tenant(core: &Core, cmd: TenantCommand) -> Result<()> {
    let actor = Actor::cli();
    match cmd {
        TenantCommand::Create {
            name,
            msp,
            display_name,
            admin_email,
        } => {
            let new = NewTenant {
                name: &name,
                display_name: display_name.as_deref(),
                admin_email: admin_email.as_deref(),
            };
            let created = match msp {
                Some(msp) => core.create_customer(new, &msp, &actor).await?,
                None => core.create_standalone(new, &actor).await?,
            };
            print_json(&created);
        }
        TenantCommand::List { msp } => {
            print_json(&core.list_tenants(msp.as_deref()).await?);
        }
        TenantCommand::Delete { name, cascade } => {
            print_json(&core.delete_tenant(&name, cascade, &actor).await?);
        }
        TenantCommand::PurgeName { name } => {
            core.purge_name(&name, &actor).await?;
            print_json(&serde_json::json!({ "purged": name }));
        }
    }
    Ok(())
}
