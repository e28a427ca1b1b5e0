//! SCIM 2.0 provisioning (RFC 7643/7644) on core: bearer tokens, users and groups as SCIM
//! resources, group membership driving the tenant's role mappings, and the sync status
//! the MSP overview shows. The grammar (filters, PATCH, schemas) is the pure `crate::scim`;
//! the HTTP adapter is `crate::scim::routes`.

pub mod bulk;
mod write;

use super::audit::{self, Actor, Change};
use super::{Core, Error, Result};
use crate::clock::rfc3339;
use crate::ids::{credential, ScimTokenId};
use crate::scim::attrs::ResourceSchema;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::{filter, schema, sql};
use crate::store::{self, scim as rows, tenants as tenant_rows, Conn};
use crate::tenancy::Tenant;
use serde::Serialize;
use serde_json::{json, Value};

pub use write::WriteOutcome;

pub const SCIM_TOKEN_PREFIX: &str = "tnt_scim_";
const PURPOSE: &str = "scim_token";
/// Largest page a list or search answers (ServiceProviderConfig `filter.maxResults`).
pub const MAX_RESULTS: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    pub fn schema(self) -> &'static ResourceSchema {
        match self {
            Kind::User => schema::user(),
            Kind::Group => schema::group(),
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "User" => Some(Kind::User),
            "Group" => Some(Kind::Group),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScimTokenView {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// Present only in the response that created the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn token_view(r: rows::TokenRow, token: Option<String>) -> ScimTokenView {
    ScimTokenView {
        id: r.id,
        name: r.name,
        created_by: r.created_by,
        created_at: rfc3339(r.created_at),
        last_used_at: r.last_used_at.map(rfc3339),
        token,
    }
}

/// Query parameters of a list or `.search` (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// A resource as answered: the document (with `meta`) and its version for the ETag.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: Kind,
    pub doc: Value,
    pub version: i64,
}

impl Resource {
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Does an `If-Match` / `If-None-Match` value name this version (`*` names any)?
pub fn etag_matches(header: &str, version: i64) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == version.to_string())
}

/// Which optional, costly parts of a resource a request wants rendered.
#[derive(Debug, Clone, Copy)]
pub struct Wants {
    pub related: bool,
}

impl Wants {
    pub const ALL: Wants = Wants { related: true };

    /// `groups` of a User and `members` of a Group are rendered unless the projection
    /// leaves them out.
    pub fn of(kind: Kind, attributes: Option<&str>, excluded: Option<&str>) -> Wants {
        let name = match kind {
            Kind::User => "groups",
            Kind::Group => "members",
        };
        let names = |list: &str| {
            list.split(',')
                .map(|a| {
                    a.trim()
                        .rsplit(':')
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase()
                })
                .map(|a| a.split('.').next().unwrap_or("").to_string())
                .any(|a| a == name)
        };
        let related = match (attributes, excluded) {
            (Some(a), _) if !a.trim().is_empty() => names(a),
            (_, Some(e)) => !names(e),
            _ => true,
        };
        Wants { related }
    }
}

impl Core {
    /// `{issuer}/scim/v2` of a tenant.
    pub fn scim_base(&self, tenant: &Tenant) -> String {
        format!("{}/scim/v2", self.issuer(&tenant.name))
    }

    /// The token's id if `token` is a SCIM token of this tenant.
    pub async fn authenticate_scim_token(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<Option<String>> {
        if !token.starts_with(SCIM_TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let hash = self.keys.hash_credential(PURPOSE, token);
        let mut conn = self.store.conn().await?;
        let Some(row) = rows::token_by_hash(&mut conn, &tenant.id, &hash).await? else {
            return Ok(None);
        };
        rows::touch_token(&mut conn, &tenant.id, &row.id, self.clock.now()).await?;
        Ok(Some(row.id))
    }

    /// A new SCIM token for the tenant; the secret is in the returned view only.
    pub async fn create_scim_token(
        &self,
        tenant: &Tenant,
        name: &str,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<ScimTokenView> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "invalid_name",
                "a token name is 1 to 100 printable characters",
            ));
        }
        let now = self.clock.now();
        let secret = credential(SCIM_TOKEN_PREFIX);
        let row = rows::TokenRow {
            id: ScimTokenId::generate().to_string(),
            name: name.to_string(),
            created_by: actor.id.clone(),
            created_at: now,
            last_used_at: None,
        };
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let hash = self.keys.hash_credential(PURPOSE, &secret);
        rows::insert_token(&mut tx, &tenant.id, &row, &hash).await?;
        let view = token_view(row, None);
        let change = Change {
            action: "scim_token.create",
            target: format!("scim_token:{}", view.id),
            before: None,
            after: Some(json!(view)),
        };
        audit::append(
            &self.keys, &mut tx, &tenant.id, actor, change, now, request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        Ok(ScimTokenView {
            token: Some(secret),
            ..view
        })
    }

    /// `GET /orgs/{org}/scim-tokens` and the portal's list: org read-only access or more
    /// (403 `org_read_required`), then the organization's tokens.
    pub async fn api_list_scim_tokens(
        &self,
        call: &super::manage::OrgCall,
    ) -> Result<Vec<ScimTokenView>> {
        require_scim_reader(call)?;
        self.list_scim_tokens(&call.org).await
    }

    /// `GET /orgs/{org}/scim-tokens/{id}`: the list's read rule, then one token.
    pub async fn api_get_scim_token(
        &self,
        call: &super::manage::OrgCall,
        id: &str,
    ) -> Result<ScimTokenView> {
        require_scim_reader(call)?;
        self.get_scim_token(&call.org, id).await
    }

    pub async fn list_scim_tokens(&self, tenant: &Tenant) -> Result<Vec<ScimTokenView>> {
        let mut conn = self.store.conn().await?;
        Ok(rows::list_tokens(&mut conn, &tenant.id)
            .await?
            .into_iter()
            .map(|r| token_view(r, None))
            .collect())
    }

    pub async fn get_scim_token(&self, tenant: &Tenant, id: &str) -> Result<ScimTokenView> {
        let mut conn = self.store.conn().await?;
        rows::get_token(&mut conn, &tenant.id, id)
            .await?
            .map(|r| token_view(r, None))
            .ok_or(Error::NotFound)
    }

    /// Revoke (delete) a SCIM token: it stops working at once.
    pub async fn revoke_scim_token(
        &self,
        tenant: &Tenant,
        id: &str,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let before = rows::get_token(&mut tx, &tenant.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        rows::delete_token(&mut tx, &tenant.id, id).await?;
        let change = Change {
            action: "scim_token.revoke",
            target: format!("scim_token:{id}"),
            before: Some(json!(token_view(before, None))),
            after: None,
        };
        audit::append(
            &self.keys, &mut tx, &tenant.id, actor, change, now, request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        Ok(())
    }

    /// (last successful SCIM write, errors in the last 24 hours).
    pub async fn scim_status(&self, tenant: &Tenant) -> Result<(Option<i64>, i64)> {
        let mut conn = self.store.conn().await?;
        rows::status(&mut conn, &tenant.id, self.clock.now()).await
    }

    /// Count a SCIM error answered to an authenticated directory (best effort).
    pub async fn scim_record_error(&self, tenant: &Tenant, err: &ScimError) {
        let now = self.clock.now();
        let detail: String = err.to_string().chars().take(300).collect();
        if let Ok(mut conn) = self.store.conn().await {
            if let Err(e) = rows::record_error(&mut conn, &tenant.id, now, &detail).await {
                tracing::warn!(error = %e, "scim: cannot record an error");
            }
        }
    }

    /// One resource, rendered.
    pub async fn scim_get(
        &self,
        tenant: &Tenant,
        kind: Kind,
        id: &str,
        wants: Wants,
    ) -> ScimResult<Resource> {
        let mut conn = self.store.conn().await?;
        let row = rows::get_resource(&mut conn, &tenant.id, kind.as_str(), id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.as_str())))?;
        self.render(&mut conn, tenant, row, wants).await
    }

    /// A ListResponse of one kind: filter translated to SQL, sorted, paginated, projected.
    pub async fn scim_list(
        &self,
        tenant: &Tenant,
        kind: Kind,
        params: &ListParams,
    ) -> ScimResult<Value> {
        let schema = kind.schema();
        let filter = match params.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => {
                if f.len() > 10_000 {
                    return Err(ScimError::invalid_filter("the filter is too long"));
                }
                Some(sql::to_sql(schema, &filter::parse_filter(f)?, 3)?)
            }
            _ => None,
        };
        let first_sort = 3 + filter.as_ref().map(|f| f.params.len()).unwrap_or(0);
        let sort = match params.sort_by.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => {
                let path = filter::parse_attr_path(s)
                    .map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.detail)))?;
                Some(
                    sql::sort_key_sql(schema, &path, first_sort)
                        .map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.detail)))?,
                )
            }
            _ => None,
        };
        let descending = match params.sort_order.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(o) if o == "ascending" => false,
            Some(o) if o == "descending" => true,
            Some(_) => {
                return Err(ScimError::invalid_value(
                    "sortOrder is \"ascending\" or \"descending\"",
                ))
            }
        };
        let start = params.start_index.unwrap_or(1).max(1);
        let count = params.count.unwrap_or(100).clamp(0, MAX_RESULTS);
        let mut conn = self.store.conn().await?;
        let (total, found) = rows::list_resources(
            &mut conn,
            &tenant.id,
            kind.as_str(),
            filter
                .as_ref()
                .map(|f| (f.sql.as_str(), f.params.as_slice())),
            sort.as_ref().map(|(s, p)| (s.as_str(), p.as_slice())),
            descending,
            start - 1,
            count,
        )
        .await?;
        let wants = Wants::of(
            kind,
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
        );
        let mut resources = Vec::with_capacity(found.len());
        for row in found {
            let r = self.render(&mut conn, tenant, row, wants).await?;
            resources.push(schema::project(
                schema,
                &r.doc,
                params.attributes.as_deref(),
                params.excluded_attributes.as_deref(),
            )?);
        }
        Ok(json!({
            "schemas": [schema::LIST_URN],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }))
    }

    /// The stored document with `meta`, and a Group's members or a User's groups.
    async fn render(
        &self,
        conn: &mut Conn,
        tenant: &Tenant,
        row: rows::ResourceRow,
        wants: Wants,
    ) -> ScimResult<Resource> {
        let kind = Kind::parse(&row.kind)
            .ok_or_else(|| Error::internal(format!("bad scim kind {}", row.kind)))?;
        let mut doc: Value = serde_json::from_str(&row.doc)
            .map_err(|e| Error::internal(format!("bad scim document {}: {e}", row.id)))?;
        let base = self.scim_base(tenant);
        if wants.related {
            match kind {
                Kind::Group => {
                    let members = rows::members_with_kind(conn, &tenant.id, &row.id).await?;
                    let list: Vec<Value> = members
                        .into_iter()
                        .map(|m| {
                            let k = Kind::parse(&m.kind).unwrap_or(Kind::User);
                            let mut v = json!({
                                "value": m.id,
                                "type": k.as_str(),
                                "$ref": format!("{base}/{}/{}", k.endpoint(), m.id),
                            });
                            if let Some(d) = m.display {
                                v["display"] = json!(d);
                            }
                            v
                        })
                        .collect();
                    doc["members"] = Value::Array(list);
                }
                Kind::User => {
                    let groups = rows::groups_of(conn, &tenant.id, &row.id).await?;
                    if !groups.is_empty() {
                        let list: Vec<Value> = groups
                            .into_iter()
                            .map(|(id, gdoc)| {
                                let display = group_name(&gdoc);
                                json!({
                                    "value": id,
                                    "display": display,
                                    "type": "direct",
                                    "$ref": format!("{base}/Groups/{id}"),
                                })
                            })
                            .collect();
                        doc["groups"] = Value::Array(list);
                    }
                }
            }
        }
        doc["id"] = json!(row.id);
        doc["meta"] = json!({
            "resourceType": kind.as_str(),
            "created": rfc3339(row.created_at),
            "lastModified": rfc3339(row.updated_at),
            "version": etag(row.version),
            "location": format!("{base}/{}/{}", kind.endpoint(), row.id),
        });
        Ok(Resource {
            kind,
            doc,
            version: row.version,
        })
    }
}

/// A stored Group document's displayName.
pub(crate) fn group_name(doc: &str) -> String {
    serde_json::from_str::<Value>(doc)
        .ok()
        .and_then(|v| {
            v.get("displayName")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// The read rule of SCIM tokens: org read-only access or more.
fn require_scim_reader(call: &super::manage::OrgCall) -> Result<()> {
    if call.eff.org_access == crate::authz::OrgAccess::None {
        return Err(Error::forbidden(
            "org_read_required",
            "SCIM tokens need org read-only access",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_weak_strong_lists_and_star() {
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"1\", W/\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("W/\"2\"", 3));
        assert!(!etag_matches("", 3));
    }

    #[test]
    fn related_resources_are_rendered_unless_projected_away() {
        assert!(Wants::of(Kind::Group, None, None).related);
        assert!(!Wants::of(Kind::Group, None, Some("members")).related);
        assert!(!Wants::of(Kind::Group, Some("displayName"), None).related);
        assert!(Wants::of(Kind::Group, Some("displayName,members.value"), None).related);
        assert!(
            !Wants::of(
                Kind::User,
                None,
                Some("urn:ietf:params:scim:schemas:core:2.0:User:groups")
            )
            .related
        );
    }
}
