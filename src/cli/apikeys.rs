//! `tenantry apikey ...` and `tenantry audit ...`.

use super::print_json;
use crate::core::admins::normalise_email;
use crate::core::audit::Actor;
use crate::core::Core;
use crate::error::{Error, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for an admin; the key is printed once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Re-hash a tenant's audit chain and check its signed checkpoints.
    Verify {
        #[arg(long)]
        tenant: String,
    },
}

pub async fn run_apikey(core: &Core, cmd: ApiKeyCommand) -> Result<()> {
    let ApiKeyCommand::Create {
        tenant,
        email,
        name,
    } = cmd;
    let t = core.find_tenant(&tenant).await?;
    let mut conn = core.store.conn().await?;
    let user = crate::store::users::find_user_by_email(&mut conn, &t.id, &normalise_email(&email))
        .await?
        .ok_or_else(|| {
            Error::invalid("unknown_admin", format!("{email} is not known in {tenant}"))
        })?;
    drop(conn);
    print_json(
        &core
            .create_api_key(&t, &user.id, &name, &Actor::cli())
            .await?,
    );
    Ok(())
}

/// Exit status 1 when the chain is broken, so scripts can alarm on it.
pub async fn run_audit(core: &Core, cmd: AuditCommand) -> Result<()> {
    let AuditCommand::Verify { tenant } = cmd;
    let t = core.find_tenant(&tenant).await?;
    let mut conn = core.store.conn().await?;
    let report = crate::core::audit::verify(&mut conn, &t.id).await?;
    print_json(&report);
    if report.intact {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "the audit chain of {tenant} is broken at {}",
            report.first_broken_seq.unwrap_or_default()
        )))
    }
}
