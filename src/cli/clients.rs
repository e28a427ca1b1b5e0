//! `tenantry client ...`: register, list and delete a tenant's OAuth/OIDC clients. The
//! secret of a new confidential client is printed once, as `client_secret`.

use super::print_json;
use crate::core::audit::Actor;
use crate::core::clients::{AuthMethod, NewClient};
use crate::core::Core;
use crate::error::{Error, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints it with client_id and, when it has one, client_secret.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// authorization_code, refresh_token, client_credentials or
        /// urn:ietf:params:oauth:grant-type:token-exchange. Repeatable
        /// [default: authorization_code and refresh_token].
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Vec<String>,
        /// Repeatable; required with authorization_code.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Repeatable.
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// openid, profile, email, offline_access, privileges, admin. Repeatable
        /// [default: all but admin].
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A public client (no secret, PKCE required).
        #[arg(long)]
        public: bool,
        /// client_secret_basic, client_secret_post, private_key_jwt or none
        /// [default: client_secret_basic].
        #[arg(long, value_name = "METHOD")]
        auth_method: Option<String>,
        /// A file holding the client's public JWKS (private_key_jwt).
        #[arg(long, value_name = "FILE")]
        jwks_file: Option<PathBuf>,
        /// May obtain tokens with scope admin for the admin API.
        #[arg(long)]
        admin_api: bool,
        /// ES256, EdDSA or RS256 [default: ES256].
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// Turn PKCE off (confidential clients only).
        #[arg(long)]
        no_pkce: bool,
        #[arg(long, value_name = "URI")]
        initiate_login_uri: Option<String>,
    },
    /// List a tenant's clients.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Delete a client.
    Delete {
        #[arg(long)]
        tenant: String,
        /// The client id (cli_...).
        id: String,
    },
}

fn read_jwks(path: &PathBuf) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(
            "invalid_jwks",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::invalid(
            "invalid_jwks",
            format!("{} is not JSON: {e}", path.display()),
        )
    })
}

pub async fn run(core: &Core, cmd: ClientCommand) -> Result<()> {
    match cmd {
        ClientCommand::Create {
            tenant,
            name,
            grants,
            redirect_uris,
            post_logout_redirect_uris,
            scopes,
            public,
            auth_method,
            jwks_file,
            admin_api,
            id_token_alg,
            no_pkce,
            initiate_login_uri,
        } => {
            let auth_method = auth_method
                .map(|m| {
                    AuthMethod::parse(&m).ok_or_else(|| {
                        Error::invalid(
                            "unknown_auth_method",
                            format!(
                                "'{m}' is not one of client_secret_basic, client_secret_post, \
                                 private_key_jwt, none"
                            ),
                        )
                    })
                })
                .transpose()?;
            let new = NewClient {
                name,
                public,
                auth_method,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types: grants,
                scopes,
                jwks: jwks_file.as_ref().map(read_jwks).transpose()?,
                id_token_alg,
                require_pkce: no_pkce.then_some(false),
                admin_api,
                initiate_login_uri,
            };
            let t = core.find_tenant(&tenant).await?;
            let (client, secret) = core.create_client(&t, new, &Actor::cli(), None).await?;
            let mut v = json!(client);
            v["client_id"] = json!(client.id);
            if let Some(secret) = secret {
                v["client_secret"] = json!(secret);
            }
            print_json(&v);
        }
        ClientCommand::List { tenant } => {
            let t = core.find_tenant(&tenant).await?;
            print_json(&core.list_clients(&t).await?);
        }
        ClientCommand::Delete { tenant, id } => {
            let t = core.find_tenant(&tenant).await?;
            core.delete_client(&t, &id, &Actor::cli(), None).await?;
            print_json(&json!({"id": id, "deleted": true}));
        }
    }
    Ok(())
}
