//! SCIM: bearer tokens, resources with their flattened attribute values, group members,
//! and the per-tenant sync status. Filters arrive already translated to SQL over
//! `scim_values` (see `scim::sql`), with `$n` placeholders and their values.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::TenantId;
use crate::scim::sql::{SqlParam, ValueRow};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn insert_token(
    conn: &mut Conn,
    tenant: &TenantId,
    row: &TokenRow,
    hash: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO scim_tokens (tenant_id, id, name, token_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.name)
    .bind(hash)
    .bind(&row.created_by)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn token_by_hash(
    conn: &mut Conn,
    tenant: &TenantId,
    hash: &str,
) -> Result<Option<TokenRow>> {
    sqlx::query_as(
        "SELECT id, name, created_by, created_at, last_used_at FROM scim_tokens \
         WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// Record use at most once a minute per token (a busy sync must not write per request).
pub async fn touch_token(conn: &mut Conn, tenant: &TenantId, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE scim_tokens SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $3 - 60)",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn list_tokens(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<TokenRow>> {
    sqlx::query_as(
        "SELECT id, name, created_by, created_at, last_used_at FROM scim_tokens \
         WHERE tenant_id = $1 ORDER BY created_at, id",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn get_token(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<TokenRow>> {
    sqlx::query_as(
        "SELECT id, name, created_by, created_at, last_used_at FROM scim_tokens \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn delete_token(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM scim_tokens WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(r.rows_affected() > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResourceRow {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub doc: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const RESOURCE_COLUMNS: &str =
    "r.id, r.kind, r.user_id, r.doc, r.version, r.created_at, r.updated_at";

pub async fn insert_resource(
    conn: &mut Conn,
    tenant: &TenantId,
    row: &ResourceRow,
    user_name_ci: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO scim_resources (tenant_id, id, kind, user_id, user_name_ci, doc, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.user_id)
    .bind(user_name_ci)
    .bind(&row.doc)
    .bind(row.version)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "uniqueness", "userName is already in use"))?;
    Ok(())
}

pub async fn get_resource(
    conn: &mut Conn,
    tenant: &TenantId,
    kind: &str,
    id: &str,
) -> Result<Option<ResourceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RESOURCE_COLUMNS} FROM scim_resources r WHERE r.tenant_id = $1 AND r.kind = $2 AND r.id = $3"
    )))
    .bind(tenant.as_str())
    .bind(kind)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// Replace a resource's document if its version is still `expected`; false if it moved on.
pub async fn update_resource(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    doc: &str,
    user_name_ci: Option<&str>,
    expected: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE scim_resources SET doc = $3, user_name_ci = $4, version = version + 1, updated_at = $5 \
         WHERE tenant_id = $1 AND id = $2 AND version = $6",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(doc)
    .bind(user_name_ci)
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "uniqueness", "userName is already in use"))?;
    Ok(r.rows_affected() > 0)
}

pub async fn delete_resource(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM scim_resources WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(r.rows_affected() > 0)
}

/// Replace the attribute rows of one resource.
pub async fn replace_values(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    values: &[ValueRow],
) -> Result<()> {
    sqlx::query("DELETE FROM scim_values WHERE tenant_id = $1 AND resource_id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    for chunk in values.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO scim_values (tenant_id, resource_id, attr, sub, idx, val, val_ci) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = 3 + i * 5;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "($1, $2, ${}, ${}, ${}, ${}, ${})",
                b,
                b + 1,
                b + 2,
                b + 3,
                b + 4
            ));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id);
        for v in chunk {
            q = q
                .bind(&v.attr)
                .bind(&v.sub)
                .bind(v.idx)
                .bind(&v.val)
                .bind(&v.val_ci);
        }
        q.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// A page of resources of one kind matching an optional filter (SQL over alias `r`,
/// placeholders from `$3`), ordered by an optional sort expression (placeholders
/// following the filter's), then by creation. Returns the total count and the page.
#[allow(clippy::too_many_arguments)]
pub async fn list_resources(
    conn: &mut Conn,
    tenant: &TenantId,
    kind: &str,
    filter: Option<(&str, &[SqlParam])>,
    sort: Option<(&str, &[SqlParam])>,
    descending: bool,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<ResourceRow>)> {
    let where_sql = filter
        .map(|(s, _)| format!(" AND ({s})"))
        .unwrap_or_default();
    let no_params: &[SqlParam] = &[];
    let fparams = filter.map(|(_, p)| p).unwrap_or(no_params);
    let count_sql = format!(
        "SELECT COUNT(*) FROM scim_resources r WHERE r.tenant_id = $1 AND r.kind = $2{where_sql}"
    );
    let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(count_sql))
        .bind(tenant.as_str())
        .bind(kind);
    for p in fparams {
        q = match p {
            SqlParam::Text(s) => q.bind(s.clone()),
            SqlParam::Int(i) => q.bind(*i),
        };
    }
    let (total,) = q.fetch_one(&mut *conn).await.map_err(db)?;
    if limit <= 0 {
        return Ok((total, Vec::new()));
    }
    let dir = if descending { "DESC" } else { "ASC" };
    let order = match sort {
        // NULLs (resources without the attribute) last in either direction.
        Some((s, _)) => {
            format!("CASE WHEN ({s}) IS NULL THEN 1 ELSE 0 END, ({s}) {dir}, r.created_at, r.id")
        }
        None => "r.created_at, r.id".to_string(),
    };
    let next = 3 + fparams.len() + sort.map(|(_, p)| p.len()).unwrap_or(0);
    let sql = format!(
        "SELECT {RESOURCE_COLUMNS} FROM scim_resources r WHERE r.tenant_id = $1 AND r.kind = $2{where_sql} \
         ORDER BY {order} LIMIT ${} OFFSET ${}",
        next,
        next + 1
    );
    let mut q = sqlx::query_as::<_, ResourceRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(kind);
    let sparams = sort.map(|(_, p)| p).unwrap_or(no_params);
    for p in fparams.iter().chain(sparams) {
        q = match p {
            SqlParam::Text(s) => q.bind(s.clone()),
            SqlParam::Int(i) => q.bind(*i),
        };
    }
    let rows = q
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok((total, rows))
}

/// The kind of a resource of this tenant, if it exists.
pub async fn kind_of(conn: &mut Conn, tenant: &TenantId, id: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT kind FROM scim_resources WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(conn)
            .await
            .map_err(db)?;
    Ok(row.map(|(k,)| k))
}

/// One member of a group: its id, kind (User or Group) and the `display` the directory
/// gave.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
pub struct Member {
    pub id: String,
    pub kind: String,
    pub display: Option<String>,
}

/// The members of a group, ordered by id.
pub async fn members_with_kind(
    conn: &mut Conn,
    tenant: &TenantId,
    group: &str,
) -> Result<Vec<Member>> {
    sqlx::query_as(
        "SELECT m.member_id AS id, r.kind, m.display FROM scim_members m JOIN scim_resources r \
         ON r.tenant_id = m.tenant_id AND r.id = m.member_id \
         WHERE m.tenant_id = $1 AND m.group_id = $2 ORDER BY m.member_id",
    )
    .bind(tenant.as_str())
    .bind(group)
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn set_members(
    conn: &mut Conn,
    tenant: &TenantId,
    group: &str,
    members: &[Member],
) -> Result<()> {
    sqlx::query("DELETE FROM scim_members WHERE tenant_id = $1 AND group_id = $2")
        .bind(tenant.as_str())
        .bind(group)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    for m in members {
        sqlx::query(
            "INSERT INTO scim_members (tenant_id, group_id, member_id, display) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(group)
        .bind(&m.id)
        .bind(&m.display)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// The groups `member` belongs to directly: (group id, group document).
pub async fn groups_of(
    conn: &mut Conn,
    tenant: &TenantId,
    member: &str,
) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT g.id, g.doc FROM scim_members m JOIN scim_resources g \
         ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
         WHERE m.tenant_id = $1 AND m.member_id = $2 ORDER BY g.id",
    )
    .bind(tenant.as_str())
    .bind(member)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Mark a successful SCIM write (also takes the database write lock first).
pub async fn record_sync(conn: &mut Conn, tenant: &TenantId, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO scim_status (tenant_id, last_sync_at) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_sync_at = $2",
    )
    .bind(tenant.as_str())
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Count an error in the rolling 24-hour window.
pub async fn record_error(
    conn: &mut Conn,
    tenant: &TenantId,
    now: i64,
    detail: &str,
) -> Result<()> {
    let window = now - 86_400;
    sqlx::query(
        "INSERT INTO scim_status (tenant_id, error_count, error_window_start, last_error) VALUES ($1, 1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET \
         error_count = CASE WHEN scim_status.error_window_start < $4 THEN 1 ELSE scim_status.error_count + 1 END, \
         error_window_start = CASE WHEN scim_status.error_window_start < $4 THEN $2 ELSE scim_status.error_window_start END, \
         last_error = $3",
    )
    .bind(tenant.as_str())
    .bind(now)
    .bind(detail)
    .bind(window)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// (last sync, errors in the last 24 hours) of a tenant.
pub async fn status(conn: &mut Conn, tenant: &TenantId, now: i64) -> Result<(Option<i64>, i64)> {
    let row: Option<(Option<i64>, i64, i64)> = sqlx::query_as(
        "SELECT last_sync_at, error_count, error_window_start FROM scim_status WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(match row {
        Some((last, count, start)) if start >= now - 86_400 => (last, count),
        Some((last, _, _)) => (last, 0),
        None => (None, 0),
    })
}

/// The `users` columns a SCIM User drives.
#[derive(Debug, Clone)]
pub struct ScimUserFields {
    pub email: String,
    pub email_norm: String,
    pub display_name: Option<String>,
    pub status: &'static str,
    pub external_id: Option<String>,
}

pub async fn insert_scim_user(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    f: &ScimUserFields,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (tenant_id, id, email, email_norm, display_name, status, source, external_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'scim', $7, $8, $8)",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(&f.email)
    .bind(&f.email_norm)
    .bind(&f.display_name)
    .bind(f.status)
    .bind(&f.external_id)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            "uniqueness",
            format!("{} is already a user of this organization", f.email),
        )
    })?;
    Ok(())
}

pub async fn update_scim_user(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    f: &ScimUserFields,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET email = $3, email_norm = $4, display_name = $5, status = $6, external_id = $7, updated_at = $8 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(&f.email)
    .bind(&f.email_norm)
    .bind(&f.display_name)
    .bind(f.status)
    .bind(&f.external_id)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            "uniqueness",
            format!("{} is already a user of this organization", f.email),
        )
    })?;
    Ok(())
}

/// How many passkeys a user has.
pub async fn passkey_count(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user)
            .fetch_one(conn)
            .await
            .map_err(db)?;
    Ok(n)
}

/// A new version of a resource whose related rows (members) changed.
pub async fn touch_resource(conn: &mut Conn, tenant: &TenantId, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE scim_resources SET version = version + 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}
