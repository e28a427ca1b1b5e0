//! Networks and their tags (privileges.md "Levels": tags are single words).

use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
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
        let tenant = self.find_tenant(tenant_name).await?;
        self.create_network_in(&tenant, name, tags, actor, None)
            .await
    }

    pub async fn create_network_in(
        &self,
        tenant: &crate::tenancy::Tenant,
        name: &str,
        tags: &[String],
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<NetworkView> {
        let name = validate_name(name)?;
        let tags = clean_tags(tags)?;
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
            &self.keys,
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
            request_id,
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
            &self.keys,
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

/// A network as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkResource {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub port_privileges: Vec<PortPrivilegeView>,
    /// The caller's effective accesses on it.
    pub access: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortPrivilegeView {
    pub name: String,
    pub port_tags: Vec<String>,
    pub packet_capture: bool,
    pub created_at: String,
}

/// POST /networks body.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNetwork {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// PATCH /networks/{id} body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkChange {
    pub name: Option<String>,
    /// The complete set of tags after the change.
    pub tags: Option<Vec<String>>,
}

/// POST /networks/{id}/port-privileges body.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPortPrivilege {
    pub name: String,
    #[serde(default)]
    pub port_tags: Vec<String>,
    #[serde(default)]
    pub packet_capture: bool,
}

fn clean_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut tags: Vec<String> = tags.iter().map(|t| t.trim().to_string()).collect();
    if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        return Err(Error::invalid(
            "invalid_tag",
            format!("'{bad}' is not a tag: use 1 to 64 lower-case letters, digits, '_' or '-'"),
        ));
    }
    tags.sort();
    tags.dedup();
    Ok(tags)
}

impl Core {
    async fn network_resource(
        &self,
        conn: &mut crate::store::Conn,
        call: &OrgCall,
        id: &str,
    ) -> Result<NetworkResource> {
        if !call.eff.is_visible(id) {
            return Err(Error::NotFound);
        }
        let n = rows::get(conn, &call.org.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        let ports = rows::port_privileges_of(conn, &call.org.id, id)
            .await?
            .into_iter()
            .map(|p| PortPrivilegeView {
                name: p.name,
                port_tags: serde_json::from_str(&p.port_tags).unwrap_or_default(),
                packet_capture: p.allow_capture != 0,
                created_at: rfc3339(p.created_at),
            })
            .collect();
        Ok(NetworkResource {
            tags: rows::tags_of(conn, &call.org.id, id).await?,
            port_privileges: ports,
            access: call.eff.networks.get(id).cloned().unwrap_or_default(),
            id: n.id,
            name: n.name,
            created_at: rfc3339(n.created_at),
        })
    }

    /// Visible networks only: a hidden network is not listed.
    pub async fn api_list_networks(
        &self,
        call: &OrgCall,
        q: Option<&str>,
    ) -> Result<Vec<NetworkResource>> {
        let mut conn = self.store.conn().await?;
        let mut out = Vec::new();
        for n in rows::list(&mut conn, &call.org.id).await? {
            if !call.eff.is_visible(&n.id) {
                continue;
            }
            if q.is_some_and(|q| !n.name.to_lowercase().contains(&q.to_lowercase())) {
                continue;
            }
            out.push(self.network_resource(&mut conn, call, &n.id).await?);
        }
        Ok(out)
    }

    pub async fn api_get_network(&self, call: &OrgCall, id: &str) -> Result<NetworkResource> {
        let mut conn = self.store.conn().await?;
        self.network_resource(&mut conn, call, id).await
    }

    /// POST /networks: org full (rule 1 covers tags; creating a network edits the org).
    pub async fn api_create_network(
        &self,
        call: &OrgCall,
        new: NewNetwork,
    ) -> Result<NetworkResource> {
        call.require_org_full("create networks")?;
        let v = self
            .create_network_in(
                &call.org,
                &new.name,
                &new.tags,
                &call.actor(),
                call.request_id.as_deref(),
            )
            .await?;
        // The creator holds org full, so the new network is visible with `full`.
        let mut conn = self.store.conn().await?;
        let n = rows::get(&mut conn, &call.org.id, &v.id)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(NetworkResource {
            id: n.id,
            name: n.name,
            tags: v.tags,
            port_privileges: Vec::new(),
            access: vec!["full".into()],
            created_at: v.created_at,
        })
    }

    /// PATCH /networks/{id}: renaming needs network.config.edit on it; tags need org full.
    pub async fn api_update_network(
        &self,
        call: &OrgCall,
        id: &str,
        change: NetworkChange,
    ) -> Result<NetworkResource> {
        if !call.eff.is_visible(id) {
            return Err(Error::NotFound);
        }
        let name = change.name.as_deref().map(validate_name).transpose()?;
        let tags = change.tags.as_deref().map(clean_tags).transpose()?;
        if tags.is_some() {
            call.require_org_full("change a network's tags")?;
        }
        if name.is_some() && !call.can(id, "network.config.edit") {
            return Err(Error::forbidden(
                "network_full_required",
                "renaming a network needs full access on it",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let before = self.network_resource(&mut tx, call, id).await?;
        if let Some(name) = name {
            rows::rename(&mut tx, &call.org.id, id, name).await?;
        }
        if let Some(tags) = &tags {
            rows::clear_tags(&mut tx, &call.org.id, id).await?;
            let net = NetworkId(id.to_string());
            for t in tags {
                rows::add_tag(&mut tx, &call.org.id, &net, t).await?;
            }
        }
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "network.update",
                target: format!("network:{id}"),
                before: Some(json!({"name": before.name, "tags": before.tags})),
                after: Some(json!({"name": name.unwrap_or(&before.name), "tags": tags.as_ref().unwrap_or(&before.tags)})),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        let after = self.network_resource(&mut tx, call, id).await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(after)
    }

    /// DELETE /networks/{id}: org full; its tags, port privileges and grants go with it.
    pub async fn api_delete_network(&self, call: &OrgCall, id: &str) -> Result<()> {
        if !call.eff.is_visible(id) {
            return Err(Error::NotFound);
        }
        call.require_org_full("delete networks")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let before = self.network_resource(&mut tx, call, id).await?;
        rows::delete(&mut tx, &call.org.id, id).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "network.delete",
                target: format!("network:{id}"),
                before: Some(json!({"name": before.name, "tags": before.tags})),
                after: None,
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }

    /// POST /networks/{id}/port-privileges: org full (rule 1).
    pub async fn api_add_port_privilege(
        &self,
        call: &OrgCall,
        network: &str,
        new: NewPortPrivilege,
    ) -> Result<NetworkResource> {
        if !call.eff.is_visible(network) {
            return Err(Error::NotFound);
        }
        call.require_org_full("define port privileges")?;
        if !valid_tag(&new.name) {
            return Err(Error::invalid(
                "invalid_name",
                "a port privilege name is 1 to 64 lower-case letters, digits, '_' or '-'",
            ));
        }
        let port_tags = clean_tags(&new.port_tags)?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let net = NetworkId(network.to_string());
        rows::add_port_privilege(
            &mut tx,
            &call.org.id,
            &net,
            &new.name,
            &port_tags,
            new.packet_capture,
            now,
        )
        .await?;
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "network.port_privilege.create",
                target: format!("network:{network}"),
                before: None,
                after: Some(json!({"name": new.name, "port_tags": port_tags, "packet_capture": new.packet_capture})),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        let after = self.network_resource(&mut tx, call, network).await?;
        tx.commit().await.map_err(store::db)?;
        Ok(after)
    }

    /// DELETE /networks/{id}/port-privileges/{name}: org full; grants of it go too.
    pub async fn api_delete_port_privilege(
        &self,
        call: &OrgCall,
        network: &str,
        name: &str,
    ) -> Result<()> {
        if !call.eff.is_visible(network) {
            return Err(Error::NotFound);
        }
        call.require_org_full("remove port privileges")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        if !rows::delete_port_privilege(&mut tx, &call.org.id, network, name).await? {
            return Err(Error::NotFound);
        }
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "network.port_privilege.delete",
                target: format!("network:{network}"),
                before: Some(json!({"name": name})),
                after: None,
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }
}
