//! Flattening resources into `scim_values` rows and translating SCIM filters into SQL
//! over that table. The SQL runs unchanged on SQLite and PostgreSQL.
//!
//! SQLite's `LIKE` ignores ASCII case unless `PRAGMA case_sensitive_like = ON`; the
//! translation only uses `LIKE` on `val` for caseExact attributes, so connections should
//! set that pragma for exact `co`/`sw`/`ew` on caseExact attributes (on `val_ci` the
//! pattern is already lower-cased, so the pragma changes nothing there).

use serde_json::Value;

use super::attrs::{AttrDef, AttrType, Found, ResourceSchema};
use super::error::{ScimError, ScimResult};
use super::filter::{
    canonical_value, case_exact, common_attrs, compare_leaf, get_ci, operand, resolve,
    value_path_target, AttrPath, CompareOp, Filter, Operand,
};

/// One row of `scim_values` (without tenant and resource ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueRow {
    pub attr: String,
    pub sub: String,
    pub idx: i64,
    pub val: String,
    pub val_ci: String,
}

fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

fn emit(def: &AttrDef, key: &str, v: &Value, rows: &mut Vec<ValueRow>) {
    let elems = if def.multi_valued { items(v) } else { vec![v] };
    let mut push = |leaf: &AttrDef, sub: String, idx: i64, x: &Value| {
        if let Some(val) = canonical_value(leaf, x) {
            rows.push(ValueRow {
                attr: key.to_string(),
                sub,
                idx,
                val_ci: val.to_lowercase(),
                val,
            });
        }
    };
    for (idx, elem) in (0i64..).zip(elems) {
        if def.ty == AttrType::Complex {
            for sd in &def.sub_attributes {
                if let Some(sv) = get_ci(elem, &sd.name) {
                    let sv = if sd.multi_valued { items(sv) } else { vec![sv] };
                    for x in sv {
                        push(sd, sd.name.to_ascii_lowercase(), idx, x);
                    }
                }
            }
        } else {
            push(def, String::new(), idx, elem);
        }
    }
}

/// All value rows of a stored resource document (core, common and extension attributes).
pub fn flatten(schema: &ResourceSchema, doc: &Value) -> Vec<ValueRow> {
    let mut rows = Vec::new();
    // Common attributes the schema does not define itself (some loaders add them).
    let common = common_attrs().iter().filter(|c| {
        !schema
            .core
            .attributes
            .iter()
            .any(|a| a.name.eq_ignore_ascii_case(&c.name))
    });
    for def in schema.core.attributes.iter().chain(common) {
        if let Some(v) = get_ci(doc, &def.name) {
            emit(def, &def.name.to_ascii_lowercase(), v, &mut rows);
        }
    }
    for (ext, _) in &schema.extensions {
        let Some(container) = get_ci(doc, &ext.id) else {
            continue;
        };
        for def in &ext.attributes {
            if let Some(v) = get_ci(container, &def.name) {
                let found = Found {
                    urn: &ext.id,
                    extension: true,
                    def,
                };
                emit(def, &ResourceSchema::storage_key(&found), v, &mut rows);
            }
        }
    }
    rows
}

/// A bound SQL parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
}

/// A boolean SQL expression over alias `r` with its parameters (`$first_param`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFilter {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// Escape `%`, `_` and `\` for `LIKE ... ESCAPE '\'`.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How value rows are tied to the resource (or to an element in a value path).
enum Corr<'a> {
    Root(String),
    Element(&'a AttrDef, String),
}

struct Tr<'a> {
    schema: &'a ResourceSchema,
    first: usize,
    params: Vec<SqlParam>,
    aliases: usize,
}

impl<'a> Tr<'a> {
    fn param(&mut self, p: SqlParam) -> String {
        let n = self.first + self.params.len();
        self.params.push(p);
        format!("${n}")
    }

    fn text(&mut self, s: impl Into<String>) -> String {
        self.param(SqlParam::Text(s.into()))
    }

    /// `EXISTS (SELECT 1 FROM scim_values a WHERE <correlation> [AND a.sub = ..] [AND cond])`.
    /// `cond` gets the alias and a guard (the attr/sub conditions) for CASE expressions.
    fn exists(
        &mut self,
        corr: &Corr<'_>,
        sub: Option<String>,
        cond: impl FnOnce(&mut Self, &str, &str) -> String,
    ) -> String {
        self.aliases += 1;
        let a = format!("v{}", self.aliases);
        let (owner, mut guard) = match corr {
            Corr::Root(key) => {
                let k = self.text(key.clone());
                (
                    format!("{a}.tenant_id = r.tenant_id AND {a}.resource_id = r.id"),
                    format!("{a}.attr = {k}"),
                )
            }
            Corr::Element(_, o) => (
                format!("{a}.tenant_id = {o}.tenant_id AND {a}.resource_id = {o}.resource_id"),
                format!("{a}.attr = {o}.attr AND {a}.idx = {o}.idx"),
            ),
        };
        if let Some(s) = sub {
            let p = self.text(s);
            guard.push_str(&format!(" AND {a}.sub = {p}"));
        }
        let mut sql = format!("{owner} AND {guard}");
        let c = cond(self, &a, &guard);
        if !c.is_empty() {
            sql.push_str(" AND ");
            sql.push_str(&c);
        }
        format!("EXISTS (SELECT 1 FROM scim_values {a} WHERE {sql})")
    }

    /// The correlation, storage sub and leaf definition of a path.
    fn target<'c>(
        &self,
        ctx: &Corr<'c>,
        path: &AttrPath,
        presence: bool,
    ) -> ScimResult<(Corr<'c>, Option<String>, &'c AttrDef)>
    where
        'a: 'c,
    {
        let unknown = || ScimError::invalid_filter(format!("unknown attribute '{path}'"));
        match ctx {
            Corr::Element(parent, o) => {
                if path.urn.is_some() || path.sub.is_some() {
                    return Err(unknown());
                }
                let leaf = parent.sub(&path.attr).ok_or_else(unknown)?;
                let sub = leaf.name.to_ascii_lowercase();
                Ok((Corr::Element(parent, o.clone()), Some(sub), leaf))
            }
            Corr::Root(_) => {
                let r = resolve(self.schema, path).ok_or_else(unknown)?;
                let corr = Corr::Root(r.key.clone());
                if presence && r.sub.is_none() {
                    let sub = (r.def.ty != AttrType::Complex).then(String::new);
                    return Ok((corr, sub, r.def));
                }
                let leaf = compare_leaf(&r)?;
                let sub = if r.def.ty == AttrType::Complex {
                    leaf.name.to_ascii_lowercase()
                } else {
                    String::new()
                };
                Ok((corr, Some(sub), leaf))
            }
        }
    }

    fn expr(&mut self, f: &Filter, ctx: &Corr<'_>) -> ScimResult<String> {
        Ok(match f {
            Filter::And(a, b) => format!("({} AND {})", self.expr(a, ctx)?, self.expr(b, ctx)?),
            Filter::Or(a, b) => format!("({} OR {})", self.expr(a, ctx)?, self.expr(b, ctx)?),
            Filter::Not(a) => format!("NOT ({})", self.expr(a, ctx)?),
            Filter::Present(path) => {
                let (corr, sub, _) = self.target(ctx, path, true)?;
                self.exists(&corr, sub, |_, a, _| format!("{a}.val <> ''"))
            }
            Filter::Compare { path, op, value } => {
                let (corr, sub, leaf) = self.target(ctx, path, false)?;
                let operand = operand(leaf, *op, value)?;
                match (&operand, op) {
                    (Operand::Null, CompareOp::Eq) => {
                        format!("NOT {}", self.exists(&corr, sub, |_, _, _| String::new()))
                    }
                    (Operand::Null, _) => self.exists(&corr, sub, |_, _, _| String::new()),
                    (_, CompareOp::Ne) => {
                        let eq = self.exists(&corr, sub, |t, a, g| {
                            t.condition(leaf, CompareOp::Eq, &operand, a, g)
                        });
                        format!("NOT {eq}")
                    }
                    _ => self.exists(&corr, sub, |t, a, g| t.condition(leaf, *op, &operand, a, g)),
                }
            }
            Filter::ValuePath { path, filter } => {
                if matches!(ctx, Corr::Element(..)) {
                    return Err(ScimError::invalid_filter("value paths cannot be nested"));
                }
                let r = value_path_target(self.schema, path)?;
                let corr = Corr::Root(r.key.clone());
                let mut inner = Ok(String::new());
                let sql = self.exists(&corr, None, |t, a, _| {
                    inner = t.expr(filter, &Corr::Element(r.def, a.to_string()));
                    inner.clone().unwrap_or_default()
                });
                inner?;
                sql
            }
        })
    }

    fn condition(
        &mut self,
        leaf: &AttrDef,
        op: CompareOp,
        operand: &Operand,
        a: &str,
        guard: &str,
    ) -> String {
        let sym = match op {
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            _ => "=",
        };
        match operand {
            Operand::Null => String::new(),
            Operand::Bool(b) => {
                let p = self.text(b.to_string());
                format!("{a}.val = {p}")
            }
            Operand::Num(_, text) => {
                // PostgreSQL may evaluate conditions in any order: the CASE makes sure
                // only this attribute's (numeric) values are cast.
                let p = self.text(text.clone());
                format!(
                    "CAST(CASE WHEN {guard} THEN {a}.val END AS DOUBLE PRECISION) {sym} \
                     CAST({p} AS DOUBLE PRECISION)"
                )
            }
            Operand::Text(t) if leaf.ty == AttrType::DateTime && sym != "=" => {
                // Without the trailing 'Z', string order is time order even when only
                // one side has fractional seconds.
                let p = self.text(t.trim_end_matches('Z'));
                format!("REPLACE({a}.val, 'Z', '') {sym} {p}")
            }
            Operand::Text(t) => {
                let col = if case_exact(leaf) { "val" } else { "val_ci" };
                let pattern = match op {
                    CompareOp::Co => Some(format!("%{}%", like_escape(t))),
                    CompareOp::Sw => Some(format!("{}%", like_escape(t))),
                    CompareOp::Ew => Some(format!("%{}", like_escape(t))),
                    _ => None,
                };
                match pattern {
                    Some(pat) => {
                        let p = self.text(pat);
                        format!("{a}.{col} LIKE {p} ESCAPE '\\'")
                    }
                    None => {
                        let p = self.text(t.clone());
                        format!("{a}.{col} {sym} {p}")
                    }
                }
            }
        }
    }
}

/// Translate a filter into a boolean SQL expression over `scim_resources r`.
/// Placeholders are numbered from `first_param`.
pub fn to_sql(
    schema: &ResourceSchema,
    filter: &Filter,
    first_param: usize,
) -> ScimResult<SqlFilter> {
    let mut t = Tr {
        schema,
        first: first_param,
        params: Vec::new(),
        aliases: 0,
    };
    let sql = t.expr(filter, &Corr::Root(String::new()))?;
    Ok(SqlFilter {
        sql,
        params: t.params,
    })
}

/// A scalar subquery giving the sort key of `path` for the resource `r` (for
/// `ORDER BY`). Multi-valued complex attributes with a `primary` sub-attribute sort by
/// the primary element's value, else by the smallest value. Resources without the
/// attribute get NULL.
pub fn sort_key_sql(
    schema: &ResourceSchema,
    path: &AttrPath,
    first_param: usize,
) -> ScimResult<(String, Vec<SqlParam>)> {
    let r = resolve(schema, path)
        .ok_or_else(|| ScimError::invalid_filter(format!("unknown sortBy attribute '{path}'")))?;
    let leaf = compare_leaf(&r)?;
    let sub = if r.def.ty == AttrType::Complex {
        leaf.name.to_ascii_lowercase()
    } else {
        String::new()
    };
    let col = |a: &str| match leaf.ty {
        AttrType::Integer | AttrType::Decimal => format!("CAST({a}.val AS DOUBLE PRECISION)"),
        AttrType::DateTime => format!("REPLACE({a}.val, 'Z', '')"),
        _ if case_exact(leaf) => format!("{a}.val"),
        _ => format!("{a}.val_ci"),
    };
    let mut params = Vec::new();
    let mut p = |v: &str| {
        params.push(SqlParam::Text(v.to_string()));
        format!("${}", first_param + params.len() - 1)
    };
    let (k, s) = (p(&r.key), p(&sub));
    let min = format!(
        "(SELECT MIN({}) FROM scim_values vs WHERE vs.tenant_id = r.tenant_id \
         AND vs.resource_id = r.id AND vs.attr = {k} AND vs.sub = {s})",
        col("vs")
    );
    if !(r.def.multi_valued && r.def.sub("primary").is_some()) {
        return Ok((min, params));
    }
    let (k2, s2) = (p(&r.key), p(&sub));
    let primary = format!(
        "(SELECT MIN({}) FROM scim_values vs2 JOIN scim_values vp ON vp.tenant_id = vs2.tenant_id \
         AND vp.resource_id = vs2.resource_id AND vp.attr = vs2.attr AND vp.idx = vs2.idx \
         AND vp.sub = 'primary' AND vp.val = 'true' WHERE vs2.tenant_id = r.tenant_id \
         AND vs2.resource_id = r.id AND vs2.attr = {k2} AND vs2.sub = {s2})",
        col("vs2")
    );
    Ok((format!("COALESCE({primary}, {min})"), params))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::filter::parse_filter;
    use super::super::filter::tests::{bjensen, group_schema, user_schema, ENT, USER};
    use super::*;
    use serde_json::json;
    use sqlx::{Connection, SqliteConnection};

    pub(crate) fn users() -> Vec<Value> {
        let mut b = bjensen();
        b["id"] = json!("u1");
        vec![
            b,
            json!({"schemas": [USER], "id": "u2", "externalId": "ext-2", "userName": "jsmith",
                   "name": {"givenName": "John", "familyName": "Smith"}, "active": false,
                   "userType": "Intern", "title": "Intern_100%", "loginCount": 9,
                   "emails": [{"value": "jsmith@example.org", "type": "home"},
                              {"value": "john@work.example.com", "type": "work", "primary": true}],
                   "meta": {"resourceType": "User", "created": "2012-01-01T00:00:00Z",
                            "lastModified": "2012-03-01T10:00:00+02:00"}}),
            json!({"schemas": [USER, ENT], "id": "u3", "userName": "Ångström", "active": true,
                   "userType": "Employee", "loginCount": 100, "score": 2.5,
                   "emails": [{"value": "ANG@EXAMPLE.COM", "type": "work"}],
                   "ims": [{"value": "ang@foo.com", "type": "xmpp"}],
                   ENT: {"employeeNumber": "42", "manager": {"value": "u1"}},
                   "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34.5Z"}}),
            json!({"schemas": [USER], "id": "u4", "userName": "nomail", "title": "",
                   "nicknames": ["Bob", "Rob"],
                   "emails": [{"value": "x@example.net", "type": "home"},
                              {"value": "y@example.com", "type": "other"}]}),
            json!({"schemas": [USER], "id": "u5", "USERNAME": "Case_Test", "externalId": "ABC",
                   "Emails": [{"Value": "case@example.com", "Type": "WORK"}], "loginCount": 10}),
            json!({"schemas": [USER], "id": "u6", "userName": "a%b_c\\d", "displayName": "Zed"}),
        ]
    }

    async fn db() -> SqliteConnection {
        let mut c = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::raw_sql(
            "PRAGMA case_sensitive_like = ON;
             CREATE TABLE scim_resources (tenant_id TEXT, id TEXT, kind TEXT, doc TEXT,
                version BIGINT, created_at TEXT, updated_at TEXT);
             CREATE TABLE scim_values (tenant_id TEXT, resource_id TEXT, attr TEXT, sub TEXT,
                idx BIGINT, val TEXT, val_ci TEXT);",
        )
        .execute(&mut c)
        .await
        .unwrap();
        let s = user_schema();
        let other = json!({"id": "other", "userName": "bjensen@example.com", "title": "x",
            "userType": "Employee", "emails": [{"value": "a@example.com", "type": "work"}]});
        for (tenant, docs) in [("t1", users()), ("t2", vec![other])] {
            for d in docs {
                let id = d["id"].as_str().unwrap().to_string();
                sqlx::query("INSERT INTO scim_resources VALUES ($1, $2, 'User', $3, 1, '', '')")
                    .bind(tenant)
                    .bind(&id)
                    .bind(d.to_string())
                    .execute(&mut c)
                    .await
                    .unwrap();
                for row in flatten(&s, &d) {
                    sqlx::query("INSERT INTO scim_values VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(tenant)
                        .bind(&id)
                        .bind(&row.attr)
                        .bind(&row.sub)
                        .bind(row.idx)
                        .bind(&row.val)
                        .bind(&row.val_ci)
                        .execute(&mut c)
                        .await
                        .unwrap();
                }
            }
        }
        c
    }

    /// Ids of tenant t1's users matching `filter` in SQLite (through sqlx, with `$n`
    /// placeholders as in production), checked against the in-memory evaluation.
    async fn query(c: &mut SqliteConnection, filter: &str) -> Vec<String> {
        let s = user_schema();
        let f = parse_filter(filter).unwrap();
        let t = to_sql(&s, &f, 3).unwrap();
        let sql = format!(
            "SELECT r.id FROM scim_resources r WHERE r.tenant_id = $1 AND r.kind = $2 AND {} \
             ORDER BY r.id",
            t.sql
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.clone()))
            .bind("t1")
            .bind("User");
        for p in &t.params {
            q = match p {
                SqlParam::Text(x) => q.bind(x.clone()),
                SqlParam::Int(i) => q.bind(*i),
            };
        }
        let ids = q
            .fetch_all(&mut *c)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        let mem: Vec<String> = users()
            .into_iter()
            .filter(|d| super::super::filter::matches(&s, &f, d).unwrap())
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, mem, "SQL and in-memory disagree on {filter}");
        ids
    }

    async fn check(cases: &[(&str, &[&str])]) {
        let mut c = db().await;
        for (filter, want) in cases {
            assert_eq!(query(&mut c, filter).await, *want, "{filter}");
        }
    }

    #[test]
    fn flatten_rows() {
        let rows = flatten(&user_schema(), &users()[0]);
        let has = |attr: &str, sub: &str, idx: i64, val: &str| {
            rows.iter()
                .any(|r| r.attr == attr && r.sub == sub && r.idx == idx && r.val == val)
        };
        assert!(has("username", "", 0, "bjensen@example.com"));
        assert!(has("name", "givenname", 0, "Barbara"));
        assert!(has("emails", "value", 1, "babs@jensen.org"));
        assert!(has("emails", "primary", 0, "true"));
        assert!(has("active", "", 0, "true"));
        assert!(has("logincount", "", 0, "12"));
        assert!(has("id", "", 0, "u1"));
        assert!(has("externalid", "", 0, "Bjensen01"));
        assert!(has("meta", "lastmodified", 0, "2011-05-13T04:42:34Z"));
        assert!(has("meta", "resourcetype", 0, "User"));
        assert!(has("schemas", "", 1, ENT));
        let ent = format!("{ENT}:employeenumber").to_ascii_lowercase();
        assert!(has(&ent, "", 0, "701984"));
        let mgr = format!("{ENT}:manager").to_ascii_lowercase();
        assert!(has(
            &mgr,
            "value",
            0,
            "26118915-6090-4610-87e4-49d8ca9f808d"
        ));
        assert!(rows.iter().all(|r| r.val_ci == r.val.to_lowercase()));
        // A schema that lists the common attributes itself gives the same rows.
        let mut with_common = user_schema();
        with_common.core.attributes.extend(
            common_attrs()
                .iter()
                .filter(|a| a.name != "schemas")
                .cloned(),
        );
        let key = |rows: Vec<ValueRow>| {
            let mut k: Vec<_> = rows
                .into_iter()
                .map(|r| (r.attr, r.sub, r.idx, r.val))
                .collect();
            k.sort();
            k
        };
        assert_eq!(key(flatten(&with_common, &users()[0])), key(rows.clone()));
        let u2 = flatten(&user_schema(), &users()[1]);
        assert!(u2
            .iter()
            .any(|r| r.sub == "lastmodified" && r.val == "2012-03-01T08:00:00Z"));
        let u4 = flatten(&user_schema(), &users()[3]);
        assert!(u4
            .iter()
            .any(|r| r.attr == "nicknames" && r.idx == 1 && r.val == "Rob"));
        let g = flatten(
            &group_schema(),
            &json!({"displayName": "G", "members": [{"value": "a"}, {"value": "b", "display": null}]}),
        );
        assert_eq!(g.len(), 3);
    }

    #[tokio::test]
    async fn rfc_filters_on_sqlite() {
        check(&[
            (r#"userName eq "bjensen@example.com""#, &["u1"]),
            (r#"userName Eq "BJENSEN@example.COM""#, &["u1"]),
            (r#"name.familyName co "O'Malley""#, &[]),
            (r#"userName sw "J""#, &["u2"]),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, &["u2"]),
            ("title pr", &["u1", "u2"]),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, &["u2", "u3"]),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, &["u1", "u2", "u3"]),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, &[]),
            (r#"meta.lastModified gt "2011-05-13T04:42:34.25Z""#, &["u2", "u3"]),
            (r#"meta.lastModified eq "2011-05-13T06:42:34.500+02:00""#, &["u3"]),
            (r#"meta.lastModified le "2012-03-01T09:00:00+01:00""#, &["u1", "u2", "u3"]),
            (r#"title pr and userType eq "Employee""#, &["u1"]),
            (r#"title pr or userType eq "Intern""#, &["u1", "u2"]),
            (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, &["u1", "u3"]),
            (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, &["u1", "u3"]),
            (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, &["u6"]),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, &["u1", "u3"]),
            (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, &["u1", "u3"]),
            (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, &["u1", "u3", "u5"]),
        ])
        .await;
    }

    #[tokio::test]
    async fn semantics_on_sqlite() {
        check(&[
            (r#"emails[type eq "home" and value co "example.com"]"#, &[]),
            (r#"emails.type eq "home" and emails.value co "example.com""#, &["u1", "u2", "u4"]),
            (r#"emails[not (type eq "work")]"#, &["u1", "u2", "u4"]),
            (r#"emails[primary eq true]"#, &["u1", "u2"]),
            ("active eq true", &["u1", "u3"]),
            ("active eq false", &["u2"]),
            ("active ne true", &["u2", "u4", "u5", "u6"]),
            ("loginCount gt 9", &["u1", "u3", "u5"]),
            ("loginCount le 10", &["u2", "u5"]),
            ("loginCount eq 12", &["u1"]),
            ("loginCount eq 12.0", &["u1"]),
            ("loginCount ne 12", &["u2", "u3", "u4", "u5", "u6"]),
            ("score lt 3", &["u3"]),
            ("score ge 2.5", &["u3"]),
            (r#"externalId eq "abc""#, &[]),
            (r#"externalId eq "ABC""#, &["u5"]),
            (r#"externalId sw "ab""#, &[]),
            (r#"externalId sw "AB""#, &["u5"]),
            (r#"id eq "u3""#, &["u3"]),
            (r#"userName co "%""#, &["u6"]),
            (r#"userName co "_""#, &["u5", "u6"]),
            (r#"userName ew "\\d""#, &["u6"]),
            (r#"userName eq "ångström""#, &["u3"]),
            (r#"title co "100%""#, &["u2"]),
            (r#"emails[type eq "work"]"#, &["u1", "u2", "u3", "u5"]),
            (r#"displayName gt "A""#, &["u6"]),
            ("displayName eq null", &["u1", "u2", "u3", "u4", "u5"]),
            ("displayName ne null", &["u6"]),
            (r#"nickName ne "x""#, &["u1", "u2", "u3", "u4", "u5", "u6"]),
            (r#"nicknames eq "rob""#, &["u4"]),
            ("title pr", &["u1", "u2"]),
            ("emails pr", &["u1", "u2", "u3", "u4", "u5"]),
            ("name pr", &["u1", "u2"]),
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "u1""#, &["u3"]),
            (r#"employeeNumber eq "42" or department co "tour""#, &["u1", "u3"]),
            (r#"manager[value eq "u1"]"#, &["u3"]),
            (r#"meta.resourceType eq "User""#, &["u1", "u2", "u3"]),
        ])
        .await;
    }

    #[test]
    fn sql_shape_and_errors() {
        let s = user_schema();
        let f = parse_filter(r#"emails[type eq "work" and value co "x"]"#).unwrap();
        let t = to_sql(&s, &f, 1).unwrap();
        assert!(
            t.sql.contains("v2.idx = v1.idx") && t.sql.contains("v3.idx = v1.idx"),
            "{}",
            t.sql
        );
        assert_eq!(t.params.len(), 5);
        assert!(t.sql.contains("$5") && !t.sql.contains("$6"));
        assert_eq!(t.params[4], SqlParam::Text("%x%".into()));
        let t = to_sql(&s, &parse_filter("loginCount gt 5").unwrap(), 7).unwrap();
        assert!(
            t.sql
                .contains("CAST(CASE WHEN v1.attr = $7 AND v1.sub = $8 THEN v1.val END AS DOUBLE PRECISION) > CAST($9 AS DOUBLE PRECISION)"),
            "{}",
            t.sql
        );
        for bad in [
            r#"nosuch eq "x""#,
            "active gt true",
            r#"name eq "x""#,
            r#"emails[foo eq "x"]"#,
        ] {
            let e = to_sql(&s, &parse_filter(bad).unwrap(), 1).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(super::super::error::ScimType::InvalidFilter),
                "{bad}"
            );
        }
        assert_eq!(like_escape(r"a%b_c\d"), r"a\%b\_c\\d");
    }

    /// Ids of tenant t1 ordered by `attr` as the store orders them (NULLs last; the sort
    /// expression appears twice, reusing its placeholders).
    async fn order(c: &mut SqliteConnection, attr: &str, desc: bool) -> Vec<String> {
        let s = user_schema();
        let path = super::super::filter::parse_attr_path(attr).unwrap();
        let (key, params) = sort_key_sql(&s, &path, 2).unwrap();
        let dir = if desc { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT r.id FROM scim_resources r WHERE r.tenant_id = $1 \
             ORDER BY CASE WHEN ({key}) IS NULL THEN 1 ELSE 0 END, ({key}) {dir}, r.id"
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.clone())).bind("t1");
        for p in &params {
            q = match p {
                SqlParam::Text(x) => q.bind(x.clone()),
                SqlParam::Int(i) => q.bind(*i),
            };
        }
        q.fetch_all(&mut *c)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"))
    }

    #[tokio::test]
    async fn sort_keys_on_sqlite() {
        let mut c = db().await;
        let by_name = order(&mut c, "userName", false).await;
        assert_eq!(by_name, ["u6", "u1", "u5", "u2", "u4", "u3"]);
        let by_count = order(&mut c, "loginCount", true).await;
        assert_eq!(by_count, ["u3", "u1", "u5", "u2", "u4", "u6"]);
        // u2's primary email is the work one; users without emails come last.
        let by_email = order(&mut c, "emails", false).await;
        assert_eq!(by_email, ["u3", "u1", "u5", "u2", "u4", "u6"]);
        // Fractional seconds sort after the whole second.
        let by_time = order(&mut c, "meta.lastModified", false).await;
        assert_eq!(by_time, ["u1", "u3", "u2", "u4", "u5", "u6"]);
        let s = user_schema();
        let nosuch = super::super::filter::parse_attr_path("nosuch").unwrap();
        assert!(sort_key_sql(&s, &nosuch, 1).is_err());
    }
}
