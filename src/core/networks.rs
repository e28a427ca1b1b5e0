//! Networks and their tags (privileges.md "Levels": tags are single words).

use super::audit::{self, Actor, Change};
use super::{Core, Error, Result};
use crate::authz::valid_tag;
use crate::clock::rfc3339;
use crate::ids::NetworkId;
use crate::store::{self, networks as rows, tenants as tenant_rows};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct NetworkView {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub created_at: String,
}

fn validate_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "invalid_name",
            "a network name must be 1 to 100 printable characters",
        ));
    }
    Ok(name)
}

impl Core {
    pub async fn create_network(
        &self,
        tenant_name: &str,
        name: &str,
        tags: &[String],
        actor: &Actor,
    ) -> Result<NetworkView> {
        let name = validate_name(name)?;
        let mut tags: Vec<String> = tags.iter().map(|t| t.trim().to_string()).collect();
        if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
            return Err(Error::invalid(
                "invalid_tag",
                format!("'{bad}' is not a tag: use 1 to 64 lower-case letters, digits, '_' or '-'"),
            ));
        }
        tags.sort();
        tags.dedup();
        let tenant = self.find_tenant(tenant_name).await?;
        let now = self.clock.now();
        let id = NetworkId::generate();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        rows::insert(
            &mut tx,
            &tenant.id,
            &rows::NetworkRow {
                id: id.to_string(),
                name: name.to_string(),
                created_at: now,
            },
        )
        .await?;
        for tag in &tags {
            rows::add_tag(&mut tx, &tenant.id, &id, tag).await?;
        }
        audit::append(
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "network.create",
                target: format!("network:{id}"),
                before: None,
                after: Some(json!({"name": name, "tags": tags})),
            },
            now,
            None,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(NetworkView {
            id: id.to_string(),
            name: name.to_string(),
            tags,
            created_at: rfc3339(now),
        })
    }

    pub async fn list_networks(&self, tenant_name: &str) -> Result<Vec<NetworkView>> {
        let tenant = self.find_tenant(tenant_name).await?;
        let mut conn = self.store.conn().await?;
        let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (network, tag) in rows::all_tags(&mut conn, &tenant.id).await? {
            tags.entry(network).or_default().push(tag);
        }
        Ok(rows::list(&mut conn, &tenant.id)
            .await?
            .into_iter()
            .map(|n| NetworkView {
                tags: tags.remove(&n.id).unwrap_or_default(),
                id: n.id,
                name: n.name,
                created_at: rfc3339(n.created_at),
            })
            .collect())
    }

    /// The network of this tenant with this name, if any (used by the idempotent demo).
    pub async fn find_network_by_name(
        &self,
        tenant_name: &str,
        name: &str,
    ) -> Result<Option<NetworkView>> {
        Ok(self
            .list_networks(tenant_name)
            .await?
            .into_iter()
            .find(|n| n.name == name))
    }

    /// Define a port privilege on a network.
    pub async fn add_port_privilege(
        &self,
        tenant_name: &str,
        network: &str,
        name: &str,
        allow_capture: bool,
        actor: &Actor,
    ) -> Result<()> {
        if !valid_tag(name) {
            return Err(Error::invalid(
                "invalid_name",
                "a port privilege name is 1 to 64 lower-case letters, digits, '_' or '-'",
            ));
        }
        let tenant = self.find_tenant(tenant_name).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        if !rows::exists(&mut tx, &tenant.id, network).await? {
            return Err(Error::NotFound);
        }
        let net = NetworkId(network.to_string());
        rows::add_port_privilege(&mut tx, &tenant.id, &net, name, &[], allow_capture, now).await?;
        audit::append(
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "network.port_privilege.create",
                target: format!("network:{network}"),
                before: None,
                after: Some(json!({"name": name, "capture": allow_capture})),
            },
            now,
            None,
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }
}
