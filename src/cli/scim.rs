//! `tenantry scim-token ...`: create, list and revoke a tenant's SCIM bearer tokens. The
//! token is printed once, in the `token` field of `create`.

use super::print_json;
use crate::core::audit::Actor;
use crate::core::Core;
use crate::error::Result;
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Create a token for a directory (Entra ID, Okta, ...); prints it once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "directory")]
        name: String,
    },
    /// List a tenant's tokens (never the secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        /// The token id (stk_...).
        id: String,
    },
}

pub async fn run(core: &Core, cmd: ScimTokenCommand) -> Result<()> {
    match cmd {
        ScimTokenCommand::Create { tenant, name } => {
            let t = core.find_tenant(&tenant).await?;
            let view = core
                .create_scim_token(&t, &name, &Actor::cli(), None)
                .await?;
            let mut v = json!(view);
            v["scim_base_url"] = json!(core.scim_base(&t));
            print_json(&v);
        }
        ScimTokenCommand::List { tenant } => {
            let t = core.find_tenant(&tenant).await?;
            print_json(&json!(core.list_scim_tokens(&t).await?));
        }
        ScimTokenCommand::Revoke { tenant, id } => {
            let t = core.find_tenant(&tenant).await?;
            core.revoke_scim_token(&t, &id, &Actor::cli(), None).await?;
            print_json(&json!({"revoked": id}));
        }
    }
    Ok(())
}
