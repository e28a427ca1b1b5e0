//! SCIM writes: create, replace (PUT), PATCH and delete of Users and Groups, each in one
//! transaction that first takes the tenant's SCIM write lock (the `scim_status` row), so
//! concurrent writers serialize and `If-Match` is checked against the current version.

use super::{group_name, Core, Kind, Resource, Wants};
use crate::core::audit::{self, Actor, Change};
use crate::core::Error;
use crate::ids::{GroupId, UserId};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::{self, Mode};
use crate::scim::{patch, sql};
use crate::store::{self, mappings as mapping_rows, scim as rows, tenants as tenant_rows, Conn};
use crate::tenancy::Tenant;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What a write did, for the HTTP layer.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub resource: Resource,
}

/// Enrolment e-mails to send once the transaction committed: (address, link, expiry).
type Mails = Vec<(String, String, i64)>;

enum Update<'a> {
    Replace(&'a Value),
    Patch(&'a Value),
}

fn actor(token_id: &str) -> Actor {
    Actor {
        id: format!("scim:{token_id}"),
        msp: None,
        msp_user: None,
    }
}

fn precondition(if_match: Option<&str>, version: i64) -> ScimResult<()> {
    if let Some(h) = if_match {
        let well_formed = h.split(',').map(str::trim).all(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t == "*" || (t.len() >= 2 && t.starts_with('"') && t.ends_with('"'))
        });
        if !well_formed {
            return Err(ScimError::bad(
                crate::scim::error::ScimType::InvalidVers,
                "If-Match names versions as entity tags: W/\"n\" or \"n\", or *",
            ));
        }
    }
    match if_match {
        Some(h) if !super::etag_matches(h, version) => Err(ScimError::new(
            412,
            None,
            "the resource has changed: If-Match does not name its current version",
        )),
        _ => Ok(()),
    }
}

/// The `users` columns a User document drives.
fn user_fields(doc: &Value) -> ScimResult<rows::ScimUserFields> {
    let user_name = doc
        .get("userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let emails = doc.get("emails").and_then(Value::as_array);
    let primary = emails.and_then(|list| {
        list.iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| list.first())
            .and_then(|e| e.get("value").and_then(Value::as_str))
    });
    let email = primary.unwrap_or(user_name).trim().to_string();
    let name = doc.get("name");
    let formatted = name
        .and_then(|n| n.get("formatted"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let given_family = name.and_then(|n| {
        let g = n.get("givenName").and_then(Value::as_str).unwrap_or("");
        let f = n.get("familyName").and_then(Value::as_str).unwrap_or("");
        let both = format!("{g} {f}").trim().to_string();
        (!both.is_empty()).then_some(both)
    });
    let display_name = doc
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(formatted)
        .or(given_family);
    let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    Ok(rows::ScimUserFields {
        email_norm: email.to_lowercase(),
        email,
        display_name,
        status: if active { "active" } else { "disabled" },
        external_id: doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// The document as stored: the validated body plus id and meta (for filtering on them).
fn stored_doc(mut body: Value, id: &str, kind: Kind, created: i64, now: i64) -> Value {
    body["id"] = json!(id);
    body["meta"] = json!({
        "resourceType": kind.as_str(),
        "created": crate::clock::rfc3339(created),
        "lastModified": crate::clock::rfc3339(now),
    });
    body
}

/// Member ids named by a Group document's `members`, each checked to be a resource here.
async fn member_ids(
    conn: &mut Conn,
    tenant: &Tenant,
    group_id: &str,
    doc: &Value,
) -> ScimResult<Vec<rows::Member>> {
    let mut out: BTreeMap<String, rows::Member> = BTreeMap::new();
    for m in doc
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = m.get("value").and_then(Value::as_str) else {
            return Err(ScimError::invalid_value(
                "each member needs a value (its id)",
            ));
        };
        if id == group_id {
            return Err(ScimError::invalid_value(
                "a group cannot be a member of itself",
            ));
        }
        let Some(kind) = rows::kind_of(conn, &tenant.id, id).await? else {
            return Err(ScimError::invalid_value(format!(
                "member {id} is not a user or group of this organization"
            )));
        };
        let display = m.get("display").and_then(Value::as_str).map(str::to_string);
        out.insert(
            id.to_string(),
            rows::Member {
                id: id.to_string(),
                kind,
                display,
            },
        );
    }
    Ok(out.into_values().collect())
}

/// The stored form of a Group (without members) and its attribute rows (with them).
fn group_rows(doc: &Value, members: &[rows::Member]) -> (Value, Vec<sql::ValueRow>) {
    let mut with = doc.clone();
    with["members"] = Value::Array(
        members
            .iter()
            .map(|m| {
                let mut v = json!({"value": m.id, "type": m.kind});
                if let Some(d) = &m.display {
                    v["display"] = json!(d);
                }
                v
            })
            .collect(),
    );
    let values = sql::flatten(schema::group(), &with);
    let mut without = doc.clone();
    if let Some(o) = without.as_object_mut() {
        o.remove("members");
    }
    (without, values)
}

impl Core {
    /// POST /Users or /Groups.
    pub async fn scim_create(
        &self,
        tenant: &Tenant,
        kind: Kind,
        body: &Value,
        token_id: &str,
    ) -> ScimResult<Resource> {
        let schema = kind.schema();
        let body = schema::validate(schema, body, Mode::Create, None)?;
        let now = self.clock.now();
        let actor = actor(token_id);
        let mut mails = Mails::new();
        let mut tx = self.store.begin().await?;
        rows::record_sync(&mut tx, &tenant.id, now).await?;
        let id = match kind {
            Kind::User => UserId::generate().to_string(),
            Kind::Group => GroupId::generate().to_string(),
        };
        let doc = stored_doc(body, &id, kind, now, now);
        let (stored, values, user_name_ci, members) = match kind {
            Kind::User => {
                let f = user_fields(&doc)?;
                rows::insert_scim_user(&mut tx, &tenant.id, &id, &f, now).await?;
                let un = doc["userName"].as_str().unwrap_or("").to_lowercase();
                let values = sql::flatten(schema, &doc);
                (doc, values, Some(un), Vec::new())
            }
            Kind::Group => {
                let members = member_ids(&mut tx, tenant, &id, &doc).await?;
                let (stored, values) = group_rows(&doc, &members);
                (stored, values, None, members)
            }
        };
        let row = rows::ResourceRow {
            id: id.clone(),
            kind: kind.as_str().to_string(),
            user_id: (kind == Kind::User).then(|| id.clone()),
            doc: stored.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        rows::insert_resource(&mut tx, &tenant.id, &row, user_name_ci.as_deref()).await?;
        rows::replace_values(&mut tx, &tenant.id, &id, &values).await?;
        if kind == Kind::Group {
            rows::set_members(&mut tx, &tenant.id, &id, &members).await?;
            let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
            let users = users_under(&mut tx, tenant, &ids).await?;
            for u in users {
                self.sync_roles(&mut tx, tenant, &u, now, &actor, &mut mails)
                    .await?;
            }
        }
        self.audit_scim(
            &mut tx,
            tenant,
            &actor,
            kind,
            "create",
            &id,
            None,
            Some(&stored),
            now,
        )
        .await?;
        let resource = self.render(&mut tx, tenant, row, Wants::ALL).await?;
        tx.commit().await.map_err(store::db)?;
        self.send_mails(tenant, mails).await;
        Ok(resource)
    }

    /// PUT: replace every writable attribute.
    pub async fn scim_replace(
        &self,
        tenant: &Tenant,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        token_id: &str,
    ) -> ScimResult<Resource> {
        self.scim_update(tenant, kind, id, Update::Replace(body), if_match, token_id)
            .await
    }

    /// PATCH (RFC 7644 §3.5.2 with the Entra ID and Okta dialects).
    pub async fn scim_patch(
        &self,
        tenant: &Tenant,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        token_id: &str,
    ) -> ScimResult<Resource> {
        self.scim_update(tenant, kind, id, Update::Patch(body), if_match, token_id)
            .await
    }

    async fn scim_update(
        &self,
        tenant: &Tenant,
        kind: Kind,
        id: &str,
        update: Update<'_>,
        if_match: Option<&str>,
        token_id: &str,
    ) -> ScimResult<Resource> {
        let schema = kind.schema();
        let now = self.clock.now();
        let actor = actor(token_id);
        let mut mails = Mails::new();
        let mut revoked = false;
        let mut tx = self.store.begin().await?;
        rows::record_sync(&mut tx, &tenant.id, now).await?;
        let row = rows::get_resource(&mut tx, &tenant.id, kind.as_str(), id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.as_str())))?;
        precondition(if_match, row.version)?;
        let current = self
            .render(&mut tx, tenant, row.clone(), Wants::ALL)
            .await?;
        let input = match update {
            Update::Replace(body) => body.clone(),
            Update::Patch(body) => {
                let mut doc = current.doc.clone();
                if !patch::apply_patch(schema, &mut doc, body)? {
                    tx.commit().await.map_err(store::db)?;
                    return Ok(current);
                }
                doc
            }
        };
        let body = schema::validate(schema, &input, Mode::Replace, Some(&current.doc))?;
        let before: Value = serde_json::from_str(&row.doc).unwrap_or(Value::Null);
        let doc = stored_doc(body, id, kind, row.created_at, now);
        match kind {
            Kind::User => {
                let f = user_fields(&doc)?;
                let old = store::users::user_by_id(&mut tx, &tenant.id, id)
                    .await?
                    .ok_or(Error::NotFound)?;
                rows::update_scim_user(&mut tx, &tenant.id, id, &f, now).await?;
                let un = doc["userName"].as_str().unwrap_or("").to_lowercase();
                if !rows::update_resource(
                    &mut tx,
                    &tenant.id,
                    id,
                    &doc.to_string(),
                    Some(&un),
                    row.version,
                    now,
                )
                .await?
                {
                    return Err(ScimError::new(412, None, "the resource has changed"));
                }
                rows::replace_values(&mut tx, &tenant.id, id, &sql::flatten(schema, &doc)).await?;
                if old.status == "active" && f.status != "active" {
                    // Deprovisioning: sessions end, refresh families and tokens are revoked.
                    crate::core::sessions::end_user(&mut tx, &tenant.id, id, now).await?;
                    tenant_rows::bump_version(&mut tx, &tenant.id).await?;
                    revoked = true;
                }
                self.audit_scim(
                    &mut tx,
                    tenant,
                    &actor,
                    kind,
                    "update",
                    id,
                    Some(&before),
                    Some(&doc),
                    now,
                )
                .await?;
            }
            Kind::Group => {
                let old = rows::members_with_kind(&mut tx, &tenant.id, id).await?;
                let old_members: Vec<String> = old.iter().map(|m| m.id.clone()).collect();
                let members = member_ids(&mut tx, tenant, id, &doc).await?;
                let (stored, values) = group_rows(&doc, &members);
                if !rows::update_resource(
                    &mut tx,
                    &tenant.id,
                    id,
                    &stored.to_string(),
                    None,
                    row.version,
                    now,
                )
                .await?
                {
                    return Err(ScimError::new(412, None, "the resource has changed"));
                }
                rows::replace_values(&mut tx, &tenant.id, id, &values).await?;
                let new_members: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
                let renamed = group_name(&row.doc) != doc["displayName"].as_str().unwrap_or("");
                let affected: Vec<String> = if renamed {
                    old_members.iter().chain(&new_members).cloned().collect()
                } else {
                    let (a, b): (BTreeSet<_>, BTreeSet<_>) =
                        (old_members.iter().collect(), new_members.iter().collect());
                    a.symmetric_difference(&b).map(|s| s.to_string()).collect()
                };
                if old != members {
                    rows::set_members(&mut tx, &tenant.id, id, &members).await?;
                }
                for u in users_under(&mut tx, tenant, &affected).await? {
                    self.sync_roles(&mut tx, tenant, &u, now, &actor, &mut mails)
                        .await?;
                }
                self.audit_scim(
                    &mut tx,
                    tenant,
                    &actor,
                    kind,
                    "update",
                    id,
                    Some(&before),
                    Some(&stored),
                    now,
                )
                .await?;
            }
        }
        let row = rows::get_resource(&mut tx, &tenant.id, kind.as_str(), id)
            .await?
            .ok_or(Error::NotFound)?;
        let resource = self.render(&mut tx, tenant, row, Wants::ALL).await?;
        tx.commit().await.map_err(store::db)?;
        if revoked {
            // Revoked tokens stop answering from this process's caches at once.
            self.tenants.invalidate();
        }
        self.send_mails(tenant, mails).await;
        Ok(resource)
    }

    /// DELETE: a User loses passkeys, sessions and tokens; a Group's members their
    /// mapped roles.
    pub async fn scim_delete(
        &self,
        tenant: &Tenant,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        token_id: &str,
    ) -> ScimResult<()> {
        let now = self.clock.now();
        let actor = actor(token_id);
        let mut mails = Mails::new();
        let mut tx = self.store.begin().await?;
        rows::record_sync(&mut tx, &tenant.id, now).await?;
        let row = rows::get_resource(&mut tx, &tenant.id, kind.as_str(), id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.as_str())))?;
        precondition(if_match, row.version)?;
        let before: Value = serde_json::from_str(&row.doc).unwrap_or(Value::Null);
        let parents: Vec<String> = rows::groups_of(&mut tx, &tenant.id, id)
            .await?
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        match kind {
            Kind::User => {
                crate::core::sessions::end_user(&mut tx, &tenant.id, id, now).await?;
                store::users::delete_user(&mut tx, &tenant.id, id).await?;
            }
            Kind::Group => {
                let users = users_under(&mut tx, tenant, &[id.to_string()]).await?;
                rows::delete_resource(&mut tx, &tenant.id, id).await?;
                for u in users {
                    self.sync_roles(&mut tx, tenant, &u, now, &actor, &mut mails)
                        .await?;
                }
            }
        }
        for g in parents {
            self.refresh_group(&mut tx, tenant, &g, now).await?;
        }
        tenant_rows::bump_version(&mut tx, &tenant.id).await?;
        self.audit_scim(
            &mut tx,
            tenant,
            &actor,
            kind,
            "delete",
            id,
            Some(&before),
            None,
            now,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        // Revoked tokens stop answering from this process's caches at once.
        self.tenants.invalidate();
        self.send_mails(tenant, mails).await;
        Ok(())
    }

    /// Re-derive a group's attribute rows from its members and give it a new version.
    async fn refresh_group(
        &self,
        conn: &mut Conn,
        tenant: &Tenant,
        group: &str,
        now: i64,
    ) -> ScimResult<()> {
        let Some(row) = rows::get_resource(conn, &tenant.id, "Group", group).await? else {
            return Ok(());
        };
        let doc: Value = serde_json::from_str(&row.doc)
            .map_err(|e| Error::internal(format!("bad scim document {group}: {e}")))?;
        let members = rows::members_with_kind(conn, &tenant.id, group).await?;
        let (_, values) = group_rows(&doc, &members);
        rows::replace_values(conn, &tenant.id, group, &values).await?;
        rows::touch_resource(conn, &tenant.id, group, now).await?;
        Ok(())
    }

    /// Recompute the user's directory-sourced role mappings from every group it is in
    /// (directly or through nested groups). A user who gains their first mapped role and
    /// has no passkey gets an enrolment link.
    async fn sync_roles(
        &self,
        conn: &mut Conn,
        tenant: &Tenant,
        user: &str,
        now: i64,
        actor: &Actor,
        mails: &mut Mails,
    ) -> ScimResult<()> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = vec![user.to_string()];
        while let Some(m) = queue.pop() {
            for (g, doc) in rows::groups_of(conn, &tenant.id, &m).await? {
                if !seen.contains_key(&g) {
                    seen.insert(g.clone(), group_name(&doc));
                    queue.push(g);
                }
            }
        }
        let groups: Vec<(String, String)> = seen.into_iter().collect();
        let wanted = mapping_rows::selected(conn, &tenant.id, &groups, &[]).await?;
        let change = mapping_rows::replace_source_rows(
            conn,
            &tenant.id,
            user,
            "directory",
            &wanted,
            now,
            true,
        )
        .await?;
        let Some((before, after)) = change else {
            return Ok(());
        };
        let change = Change {
            action: "user.roles_mapped",
            target: format!("user:{user}"),
            before: Some(json!({"source": "directory", "mappings": before})),
            after: Some(json!({"source": "directory", "mappings": after})),
        };
        audit::append(&self.keys, conn, &tenant.id, actor, change, now, None).await?;
        tenant_rows::bump_version(conn, &tenant.id).await?;
        if before.is_empty()
            && !after.is_empty()
            && rows::passkey_count(conn, &tenant.id, user).await? == 0
        {
            if let Some(u) = store::users::user_by_id(conn, &tenant.id, user).await? {
                if u.status == "active" {
                    let (url, expires) = self
                        .issue_enrolment_link(conn, tenant, &UserId(user.to_string()), now)
                        .await?;
                    mails.push((u.email, url, expires));
                }
            }
        }
        Ok(())
    }

    async fn send_mails(&self, tenant: &Tenant, mails: Mails) {
        for (email, url, expires) in mails {
            self.send_enrolment(tenant, &email, &url, &crate::clock::rfc3339(expires))
                .await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit_scim(
        &self,
        conn: &mut Conn,
        tenant: &Tenant,
        actor: &Actor,
        kind: Kind,
        verb: &str,
        id: &str,
        before: Option<&Value>,
        after: Option<&Value>,
        now: i64,
    ) -> ScimResult<()> {
        let (action, target) = match kind {
            Kind::User => (format!("scim.user.{verb}"), format!("user:{id}")),
            Kind::Group => (format!("scim.group.{verb}"), format!("group:{id}")),
        };
        let change = Change {
            action: &action,
            target,
            before: before.cloned(),
            after: after.cloned(),
        };
        audit::append(&self.keys, conn, &tenant.id, actor, change, now, None).await?;
        Ok(())
    }
}

/// Every user under these members: users themselves, and the users of nested groups.
async fn users_under(
    conn: &mut Conn,
    tenant: &Tenant,
    members: &[String],
) -> ScimResult<BTreeSet<String>> {
    let mut users = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = members.to_vec();
    while let Some(m) = queue.pop() {
        if !seen.insert(m.clone()) {
            continue;
        }
        match rows::kind_of(conn, &tenant.id, &m).await?.as_deref() {
            Some("User") => {
                users.insert(m);
            }
            Some("Group") => {
                for child in rows::members_with_kind(conn, &tenant.id, &m).await? {
                    queue.push(child.id);
                }
            }
            _ => {}
        }
    }
    Ok(users)
}
