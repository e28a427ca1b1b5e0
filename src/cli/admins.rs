//! `tenantry admin ...`.

use super::print_json;
use crate::authz::{Grant, NetworkAccess, OrgAccess, Target};
use crate::core::admins::AdminSpec;
use crate::core::audit::Actor;
use crate::core::Core;
use crate::error::{Error, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add an admin and print the passkey enrolment link.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// none, read-only or full.
        #[arg(long, value_name = "ACCESS")]
        org_access: Option<String>,
        /// network:ID=ACCESS or tag:TAG=ACCESS; ACCESS is monitor-only, read-only, full,
        /// guest-ambassador, installer or port:NAME. Repeatable.
        #[arg(long = "grant", value_name = "TARGET=ACCESS")]
        grants: Vec<String>,
    },
    /// List a tenant's admins.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Lift an account's lockout and clear its failure counters.
    Unlock {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
    /// Break-glass recovery: remove every passkey, end every session (refresh tokens
    /// revoked), set enrolment back to pending, and send and print a new enrolment link.
    Recover {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
}

/// `network:ID=ACCESS` or `tag:TAG=ACCESS`.
pub fn parse_grant(s: &str) -> Result<Grant> {
    let bad = || {
        Error::invalid(
            "invalid_grant",
            format!(
                "'{s}' is not a grant: use network:ID=ACCESS or tag:TAG=ACCESS with ACCESS one of \
                 monitor-only, read-only, full, guest-ambassador, installer, port:NAME"
            ),
        )
    };
    let (target, access) = s.split_once('=').ok_or_else(bad)?;
    let target = match Target::parse(target) {
        Some(Target::All) | None => return Err(bad()),
        Some(t) => t,
    };
    let access = NetworkAccess::parse(access).ok_or_else(bad)?;
    Ok(Grant { target, access })
}

pub async fn run(core: &Core, cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Add {
            tenant,
            email,
            name,
            org_access,
            grants,
        } => {
            let org_access = org_access
                .map(|a| {
                    OrgAccess::parse(&a).ok_or_else(|| {
                        Error::invalid(
                            "invalid_org_access",
                            format!("'{a}' is not an org access: use none, read-only or full"),
                        )
                    })
                })
                .transpose()?;
            let grants = grants
                .iter()
                .map(|g| parse_grant(g))
                .collect::<Result<Vec<_>>>()?;
            let spec = AdminSpec::new(&email, name.as_deref(), org_access, grants)?;
            print_json(&core.add_admin(&tenant, spec, &Actor::cli()).await?);
        }
        AdminCommand::List { tenant } => {
            let t = core.find_tenant(&tenant).await?;
            print_json(&core.list_admins(&t).await?);
        }
        AdminCommand::Unlock { tenant, email } => {
            print_json(
                &core
                    .cli_unlock_admin(&tenant, &email, &Actor::cli())
                    .await?,
            );
        }
        AdminCommand::Recover { tenant, email } => {
            print_json(
                &core
                    .cli_recover_admin(&tenant, &email, &Actor::cli())
                    .await?,
            );
        }
    }
    Ok(())
}
