//! Role mappings (`role_mappings`), their selectors (`role_mapping_selectors`) and the
//! mappings that currently select a user (`user_mapped_roles`).
//!
//! Names are unique per tenant (`name_taken`) and a selector belongs to one mapping of a
//! tenant (`selector_in_use`): both come from the tables' unique keys, turned into
//! conflicts here. Must not import core, http or axum.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::TenantId;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MappingRow {
    pub id: String,
    pub name: String,
    /// `authz::Bundle` as JSON.
    pub bundle: String,
    pub msp_role: Option<String>,
    /// JSON: `"all"` or a list of customer tenant ids.
    pub msp_scope: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
pub struct SelectorRow {
    pub mapping_id: String,
    /// `group_id`, `group_name` or `claim`.
    pub kind: String,
    /// The claim (or SAML attribute) name for kind `claim`, empty otherwise.
    pub claim: String,
    pub value: String,
}

const COLUMNS: &str = "id, name, bundle, msp_role, msp_scope, created_at, updated_at";

fn name_taken(e: sqlx::Error, name: &str) -> crate::error::Error {
    conflict_or(
        e,
        "name_taken",
        format!("a role mapping named '{name}' already exists"),
    )
}

pub async fn insert(conn: &mut Conn, tenant: &TenantId, row: &MappingRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO role_mappings (tenant_id, id, name, bundle, msp_role, msp_scope, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.bundle)
    .bind(&row.msp_role)
    .bind(&row.msp_scope)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map_err(|e| name_taken(e, &row.name))?;
    Ok(())
}

/// Overwrite every field but the id and created_at; false when there is no such mapping.
pub async fn update(conn: &mut Conn, tenant: &TenantId, row: &MappingRow) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE role_mappings SET name = $3, bundle = $4, msp_role = $5, msp_scope = $6, updated_at = $7 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.bundle)
    .bind(&row.msp_role)
    .bind(&row.msp_scope)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map_err(|e| name_taken(e, &row.name))?;
    Ok(done.rows_affected() == 1)
}

/// Selectors and user assignments go with it (ON DELETE CASCADE).
pub async fn delete(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM role_mappings WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<MappingRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM role_mappings WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// Every mapping of the tenant, by name.
pub async fn list(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<MappingRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM role_mappings WHERE tenant_id = $1 ORDER BY name, id"
    )))
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Selectors of one mapping, or of every mapping of the tenant when `mapping` is None.
pub async fn selectors(
    conn: &mut Conn,
    tenant: &TenantId,
    mapping: Option<&str>,
) -> Result<Vec<SelectorRow>> {
    sqlx::query_as(
        "SELECT mapping_id, kind, claim, value FROM role_mapping_selectors \
         WHERE tenant_id = $1 AND ($2 = '' OR mapping_id = $2) \
         ORDER BY mapping_id, kind, claim, value",
    )
    .bind(tenant.as_str())
    .bind(mapping.unwrap_or(""))
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn clear_selectors(conn: &mut Conn, tenant: &TenantId, mapping: &str) -> Result<()> {
    sqlx::query("DELETE FROM role_mapping_selectors WHERE tenant_id = $1 AND mapping_id = $2")
        .bind(tenant.as_str())
        .bind(mapping)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn insert_selector(
    conn: &mut Conn,
    tenant: &TenantId,
    mapping: &str,
    kind: &str,
    claim: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO role_mapping_selectors (tenant_id, mapping_id, kind, claim, value) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.as_str())
    .bind(mapping)
    .bind(kind)
    .bind(claim)
    .bind(value)
    .execute(conn)
    .await
    .map_err(|e| {
        let what = if claim.is_empty() {
            format!("{kind} '{value}'")
        } else {
            format!("claim {claim} = '{value}'")
        };
        conflict_or(
            e,
            "selector_in_use",
            format!("the selector {what} already belongs to another role mapping"),
        )
    })?;
    Ok(())
}

/// Values per query: well under SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 500;

/// (id, name) of the mappings with a selector (kind, claim, value) for any of `values`;
/// one primary-key range lookup per chunk.
async fn matching(
    conn: &mut Conn,
    tenant: &TenantId,
    kind: &str,
    claim: &str,
    values: &[&str],
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in values.chunks(CHUNK) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT DISTINCT s.mapping_id, m.name FROM role_mapping_selectors s \
             JOIN role_mappings m ON m.tenant_id = s.tenant_id AND m.id = s.mapping_id \
             WHERE s.tenant_id = $1 AND s.kind = $2 AND s.claim = $3 AND s.value IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(kind)
            .bind(claim);
        for v in chunk {
            q = q.bind(*v);
        }
        out.extend(q.fetch_all(&mut *conn).await.map_err(db)?);
    }
    Ok(out)
}

/// (id, name) of the mappings whose selectors match these groups (id, display name) or
/// claims (name, value), by name, each once.
pub async fn selected(
    conn: &mut Conn,
    tenant: &TenantId,
    groups: &[(String, String)],
    claims: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    let mut found = BTreeMap::new();
    let ids: Vec<&str> = groups.iter().map(|(id, _)| id.trim()).collect();
    let names: Vec<&str> = groups.iter().map(|(_, name)| name.trim()).collect();
    let mut by_claim: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (claim, value) in claims {
        by_claim.entry(claim.trim()).or_default().push(value.trim());
    }
    let mut lookups = vec![("group_id", "", ids), ("group_name", "", names)];
    lookups.extend(by_claim.into_iter().map(|(c, v)| ("claim", c, v)));
    for (kind, claim, values) in lookups {
        for (id, name) in matching(conn, tenant, kind, claim, &values).await? {
            found.insert(name, id);
        }
    }
    Ok(found.into_iter().map(|(name, id)| (id, name)).collect())
}

/// (mapping id, mapping name, source) of every mapping now selecting the user.
pub async fn user_mappings(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
) -> Result<Vec<(String, String, String)>> {
    sqlx::query_as(
        "SELECT u.mapping_id, m.name, u.source FROM user_mapped_roles u JOIN role_mappings m \
         ON m.tenant_id = u.tenant_id AND m.id = u.mapping_id \
         WHERE u.tenant_id = $1 AND u.user_id = $2 ORDER BY m.name",
    )
    .bind(tenant.as_str())
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Make the user's rows of `source` the `wanted` mappings (id, name), except those another
/// source already holds (one row per user and mapping); with `apply` false, only look.
/// Returns the names this source held before and after, or None when nothing changes.
#[allow(clippy::too_many_arguments)]
pub async fn replace_source_rows(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
    source: &str,
    wanted: &[(String, String)],
    now: i64,
    apply: bool,
) -> Result<Option<(Vec<String>, Vec<String>)>> {
    let (mut current, mut elsewhere) = (BTreeSet::new(), BTreeSet::new());
    for (id, name, src) in user_mappings(conn, tenant, user).await? {
        let set = if src == source {
            &mut current
        } else {
            &mut elsewhere
        };
        set.insert((name, id));
    }
    let wanted: BTreeSet<(String, String)> = wanted
        .iter()
        .map(|(id, name)| (name.clone(), id.clone()))
        .collect();
    let add: Vec<_> = wanted
        .difference(&current)
        .filter(|m| !elsewhere.contains(*m))
        .cloned()
        .collect();
    let remove: Vec<_> = current.difference(&wanted).cloned().collect();
    if add.is_empty() && remove.is_empty() {
        return Ok(None);
    }
    if apply {
        for (_, id) in &remove {
            unassign(conn, tenant, user, id, source).await?;
        }
        for (_, id) in &add {
            assign(conn, tenant, user, id, source, now).await?;
        }
    }
    let names = |s: &BTreeSet<(String, String)>| s.iter().map(|(n, _)| n.clone()).collect();
    let before = names(&current);
    for m in &remove {
        current.remove(m);
    }
    current.extend(add);
    Ok(Some((before, names(&current))))
}

/// A row that already exists (from another source) is left as it is.
async fn assign(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
    mapping: &str,
    source: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_mapped_roles (tenant_id, user_id, mapping_id, source, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(user)
    .bind(mapping)
    .bind(source)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn unassign(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
    mapping: &str,
    source: &str,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM user_mapped_roles WHERE tenant_id = $1 AND user_id = $2 AND mapping_id = $3 \
         AND source = $4",
    )
    .bind(tenant.as_str())
    .bind(user)
    .bind(mapping)
    .bind(source)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// (id, name) of the customers of `msp` whose `by` (`id` or `name`) is among `keys`, by
/// name.
pub async fn customers(
    conn: &mut Conn,
    msp: &TenantId,
    by: &str,
    keys: &[&str],
) -> Result<Vec<(String, String)>> {
    let column = if by == "id" { "id" } else { "name" };
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT id, name FROM tenants WHERE msp_id = $1 AND {column} IN ({})",
            marks.join(", ")
        );
        let mut q =
            sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).bind(msp.as_str());
        for k in chunk {
            q = q.bind(*k);
        }
        out.extend(q.fetch_all(&mut *conn).await.map_err(db)?);
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// How many users the mapping selects now.
pub async fn holders(conn: &mut Conn, tenant: &TenantId, mapping: &str) -> Result<i64> {
    let row: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM user_mapped_roles WHERE tenant_id = $1 AND mapping_id = $2",
    )
    .bind(tenant.as_str())
    .bind(mapping)
    .fetch_one(conn)
    .await
    .map_err(db)?;
    Ok(row.0)
}

/// (mapping name, MSP role, MSP scope JSON) of the mappings selecting the user that name
/// an MSP role (only an MSP's own tenant has such mappings), by name.
pub async fn msp_roles_of_user(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
) -> Result<Vec<(String, String, Option<String>)>> {
    sqlx::query_as(
        "SELECT m.name, m.msp_role, m.msp_scope FROM user_mapped_roles u JOIN role_mappings m \
         ON m.tenant_id = u.tenant_id AND m.id = u.mapping_id \
         WHERE u.tenant_id = $1 AND u.user_id = $2 AND m.msp_role IS NOT NULL ORDER BY m.name",
    )
    .bind(tenant.as_str())
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// (user id, MSP role, MSP scope JSON) of every user of the MSP tenant `msp` selected by a
/// mapping naming an MSP role, by user.
pub async fn msp_mapped_staff(
    conn: &mut Conn,
    msp: &TenantId,
) -> Result<Vec<(String, String, Option<String>)>> {
    sqlx::query_as(
        "SELECT u.user_id, m.msp_role, m.msp_scope FROM user_mapped_roles u JOIN role_mappings m \
         ON m.tenant_id = u.tenant_id AND m.id = u.mapping_id \
         WHERE u.tenant_id = $1 AND m.msp_role IS NOT NULL ORDER BY u.user_id, m.name",
    )
    .bind(msp.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}
