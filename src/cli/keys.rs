//! `tenantry keys rotate`.

use super::print_json;
use crate::core::Core;
use crate::error::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// New token-signing keys: published now, signing after JWKS caches caught up (5 min),
    /// or at once with --now. Old keys stay published until their tokens expire.
    Rotate {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        now: bool,
        /// Rotate the tenant's SAML signing key and certificate instead: it signs at once,
        /// and the metadata keeps the previous certificate for 14 days.
        #[arg(long, conflicts_with = "now")]
        saml: bool,
    },
}

pub async fn run(core: &Core, cmd: KeysCommand) -> Result<()> {
    let KeysCommand::Rotate { tenant, now, saml } = cmd;
    let t = core.find_tenant(&tenant).await?;
    if saml {
        let id = core
            .rotate_saml_key(&t, &crate::core::audit::Actor::cli(), None)
            .await?;
        print_json(&serde_json::json!({"tenant": tenant, "saml_key": id}));
        return Ok(());
    }
    let ids = core.rotate_keys(&t, now).await?;
    print_json(&serde_json::json!({"tenant": tenant, "keys": ids, "immediate": now}));
    Ok(())
}
