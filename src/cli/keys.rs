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
    },
}

pub async fn run(core: &Core, cmd: KeysCommand) -> Result<()> {
    let KeysCommand::Rotate { tenant, now } = cmd;
    let t = core.find_tenant(&tenant).await?;
    let ids = core.rotate_keys(&t, now).await?;
    print_json(&serde_json::json!({"tenant": tenant, "keys": ids, "immediate": now}));
    Ok(())
}
