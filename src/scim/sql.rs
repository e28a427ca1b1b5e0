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
#[path = "sql_tests.rs"]
pub(crate) mod tests;
