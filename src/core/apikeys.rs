//! Per-admin API keys (`tnt_ak_...`): stored as a keyed hash, shown once, acting with
//! exactly their admin's privileges, revocable (security.md, api.md).

use super::audit::{self, Actor, Change};
use super::privileges::Principal;
use super::{Core, Error, Result};
use crate::clock::rfc3339;
use crate::ids::{credential, ApiKeyId};
use crate::store::{
    self, apikeys as rows, privileges as priv_rows, tenants as tenant_rows, users as user_rows,
};
use crate::tenancy::Tenant;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

pub const API_KEY_PREFIX: &str = "tnt_ak_";
const PURPOSE: &str = "api_key";

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyView {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// Present only in the response that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn view(r: rows::ApiKeyRow, key: Option<String>) -> ApiKeyView {
    ApiKeyView {
        id: r.id,
        user_id: r.user_id,
        name: r.name,
        created_at: rfc3339(r.created_at),
        last_used_at: r.last_used_at.map(rfc3339),
        key,
    }
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "invalid_name",
            "a key name is 1 to 100 printable characters",
        ));
    }
    Ok(name.to_string())
}

impl Core {
    /// The principal an API key stands for on this tenant's host, if the key is valid here.
    pub async fn authenticate_api_key(
        &self,
        host: &Arc<Tenant>,
        token: &str,
    ) -> Result<Option<Principal>> {
        if !token.starts_with(API_KEY_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let hash = self.keys.hash_credential(PURPOSE, token);
        let mut conn = self.store.conn().await?;
        let Some(key) = rows::by_hash(&mut conn, &host.id, &hash).await? else {
            return Ok(None);
        };
        let Some(user) = user_rows::user_by_id(&mut conn, &host.id, &key.user_id).await? else {
            return Ok(None);
        };
        if user.status != "active" {
            return Ok(None);
        }
        rows::touch(&mut conn, &host.id, &key.id, self.clock.now()).await?;
        Ok(Some(Principal {
            home: host.clone(),
            user_id: user.id,
            email: user.email,
            api_key_id: Some(key.id),
        }))
    }

    /// A new key for `user_id` of tenant `home`; the secret is in the returned view only.
    pub async fn create_api_key(
        &self,
        home: &Tenant,
        user_id: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<ApiKeyView> {
        let name = validate_name(name)?;
        let now = self.clock.now();
        let secret = credential(API_KEY_PREFIX);
        let row = rows::ApiKeyRow {
            id: ApiKeyId::generate().to_string(),
            user_id: user_id.to_string(),
            name,
            created_by: actor.id.clone(),
            created_at: now,
            last_used_at: None,
        };
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &home.id).await? {
            return Err(Error::NotFound);
        }
        let user = user_rows::user_by_id(&mut tx, &home.id, user_id)
            .await?
            .ok_or(Error::NotFound)?;
        let is_admin = priv_rows::membership_of_user(&mut tx, &home.id, user_id)
            .await?
            .is_some()
            || super::standing::Standing::load(&mut tx, &home.id, user_id)
                .await?
                .is_staff();
        if !is_admin {
            return Err(Error::invalid(
                "not_an_admin",
                format!("{} is not an admin of {}", user.email, home.name),
            ));
        }
        rows::insert(
            &mut tx,
            &home.id,
            &row,
            &self.keys.hash_credential(PURPOSE, &secret),
        )
        .await?;
        audit::append(
            &self.keys,
            &mut tx,
            &home.id,
            actor,
            Change {
                action: "api_key.create",
                target: format!("user:{user_id}"),
                before: None,
                after: Some(json!({"id": row.id, "name": row.name})),
            },
            now,
            None,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        Ok(view(row, Some(secret)))
    }

    pub async fn list_api_keys(&self, home: &Tenant, user_id: &str) -> Result<Vec<ApiKeyView>> {
        let mut conn = self.store.conn().await?;
        Ok(rows::list_for_user(&mut conn, &home.id, user_id)
            .await?
            .into_iter()
            .map(|r| view(r, None))
            .collect())
    }

    pub async fn api_key(&self, home: &Tenant, id: &str) -> Result<ApiKeyView> {
        let mut conn = self.store.conn().await?;
        rows::get(&mut conn, &home.id, id)
            .await?
            .map(|r| view(r, None))
            .ok_or(Error::NotFound)
    }

    pub async fn revoke_api_key(&self, home: &Tenant, id: &str, actor: &Actor) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &home.id).await? {
            return Err(Error::NotFound);
        }
        let key = rows::get(&mut tx, &home.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        rows::delete(&mut tx, &home.id, id).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &home.id,
            actor,
            Change {
                action: "api_key.revoke",
                target: format!("user:{}", key.user_id),
                before: Some(json!({"id": key.id, "name": key.name})),
                after: None,
            },
            now,
            None,
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }
}
