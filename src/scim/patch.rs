//! The SCIM PATCH engine (RFC 7644 §3.5.2), with the dialects of Microsoft Entra ID
//! (capitalised ops, booleans as "True"/"False", URN-qualified keys in path-less values,
//! manager as a plain id, member removal by value list) and Okta (path-less replace).

use serde_json::{Map, Value};

use super::attrs::{AttrDef, AttrType, Mutability, ResourceSchema};
use super::error::{ScimError, ScimResult};
use super::filter::{
    case_exact, get_ci, matches_element, normalize_datetime, parse_patch_path, resolve, CompValue,
    CompareOp, Filter, PatchPath,
};

pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Apply a PatchOp request body to `doc`. Returns whether the document changed. On any
/// error `doc` is left untouched.
pub fn apply_patch(schema: &ResourceSchema, doc: &mut Value, body: &Value) -> ScimResult<bool> {
    let has_schema = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            })
        });
    if !has_schema {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {PATCH_OP_SCHEMA}"
        )));
    }
    let ops = match get_ci(body, "Operations").and_then(Value::as_array) {
        Some(ops) if !ops.is_empty() => ops,
        _ => {
            return Err(ScimError::invalid_syntax(
                "Operations must be a non-empty array",
            ))
        }
    };
    if !doc.is_object() {
        return Err(ScimError::invalid_syntax(
            "the resource is not a JSON object",
        ));
    }
    let mut work = doc.clone();
    let mut touched = Vec::new();
    for op in ops {
        apply_op(schema, &mut work, op, &mut touched)?;
    }
    sync_extensions(schema, &mut work, &touched);
    let changed = work != *doc;
    if changed {
        *doc = work;
    }
    Ok(changed)
}

fn apply_op(
    schema: &ResourceSchema,
    work: &mut Value,
    op: &Value,
    touched: &mut Vec<String>,
) -> ScimResult<()> {
    let name = get_ci(op, "op").and_then(Value::as_str).unwrap_or_default();
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => Kind::Add,
        "replace" => Kind::Replace,
        "remove" => Kind::Remove,
        _ => return Err(ScimError::invalid_syntax(format!("unknown op '{name}'"))),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_patch_path(s)?),
        Some(_) => return Err(ScimError::invalid_path("path must be a string")),
    };
    let value = get_ci(op, "value");
    match (kind, path) {
        (Kind::Remove, None) => Err(ScimError::no_target("remove requires a path")),
        (_, Some(p)) => apply_path(schema, work, kind, &p, value, touched),
        (_, None) => {
            let Some(Value::Object(attrs)) = value else {
                return Err(ScimError::invalid_value(
                    "an operation without a path needs an object value",
                ));
            };
            for (k, v) in attrs {
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let p = match schema.extension(k) {
                    Some(ext) => PatchPath {
                        attr: ext_path(&ext.id)?,
                        filter: None,
                        sub: None,
                    },
                    None => parse_patch_path(k)?,
                };
                apply_path(schema, work, kind, &p, Some(v), touched)?;
            }
            Ok(())
        }
    }
}

/// The extension URN itself as a path (`urn:...:2.0:User` → urn `urn:...:2.0`, attr `User`).
fn ext_path(urn: &str) -> ScimResult<super::filter::AttrPath> {
    parse_patch_path(urn).map(|p| p.attr)
}

fn apply_path(
    schema: &ResourceSchema,
    work: &mut Value,
    kind: Kind,
    p: &PatchPath,
    value: Option<&Value>,
    touched: &mut Vec<String>,
) -> ScimResult<()> {
    // The whole extension object, e.g. path "urn:...:enterprise:2.0:User".
    if let (Some(urn), None, None, None) = (&p.attr.urn, &p.attr.sub, &p.filter, &p.sub) {
        if let Some(ext) = schema.extension(&format!("{urn}:{}", p.attr.attr)) {
            touched.push(ext.id.clone());
            if kind == Kind::Remove {
                for def in &ext.attributes {
                    let attr = format!("{}:{}", ext.id, def.name);
                    let sub = parse_patch_path(&attr)?;
                    apply_path(schema, work, kind, &sub, None, touched)?;
                }
                return Ok(());
            }
            let Some(Value::Object(attrs)) = value else {
                return Err(ScimError::invalid_value(
                    "an extension value must be an object",
                ));
            };
            for (k, v) in attrs {
                // scim2-models (and others) echo the extension's `schemas` inside it.
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let sub = parse_patch_path(&format!("{}:{k}", ext.id))?;
                apply_path(schema, work, kind, &sub, Some(v), touched)?;
            }
            return Ok(());
        }
    }
    let r = resolve(schema, &p.attr)
        .ok_or_else(|| ScimError::invalid_path(format!("unknown attribute '{}'", p.attr)))?;
    let sub = match (r.sub, &p.sub) {
        (Some(s), _) => Some(s),
        (None, Some(n)) => Some(r.def.sub(n).ok_or_else(|| {
            ScimError::invalid_path(format!("unknown sub-attribute '{n}' of '{}'", r.def.name))
        })?),
        (None, None) => None,
    };
    if p.filter.is_some() && r.def.ty != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "'{}' is not complex and cannot take a value filter",
            r.def.name
        )));
    }
    if kind != Kind::Remove && value.is_none() {
        return Err(ScimError::invalid_value("add and replace need a value"));
    }
    let map = if r.extension {
        touched.push(r.urn.to_string());
        ext_container(work, r.urn)?
    } else {
        work.as_object_mut()
            .ok_or_else(|| ScimError::invalid_syntax("the resource is not a JSON object"))?
    };
    let cur = take_ci(map, &r.def.name);
    let op = Op {
        schema,
        kind,
        def: r.def,
        sub,
        filter: p.filter.as_ref(),
        value,
    };
    let new = op.update(cur.clone())?;
    check_top(r.def, cur.as_ref(), new.as_ref())?;
    if let Some(v) = new {
        map.insert(r.def.name.clone(), v);
    }
    Ok(())
}

struct Op<'a> {
    schema: &'a ResourceSchema,
    kind: Kind,
    def: &'a AttrDef,
    sub: Option<&'a AttrDef>,
    filter: Option<&'a Filter>,
    value: Option<&'a Value>,
}

impl Op<'_> {
    /// The attribute's new value (None = absent) from its current one.
    fn update(&self, cur: Option<Value>) -> ScimResult<Option<Value>> {
        let def = self.def;
        let cur = cur.filter(|v| !v.is_null());
        let value = self.value.filter(|v| !v.is_null());
        if self.filter.is_some() || (self.sub.is_some() && def.multi_valued) {
            return self.update_elements(cur);
        }
        if let Some(sd) = self.sub {
            // name.givenName on a single-valued complex attribute.
            let old = cur.clone().unwrap_or_else(|| Value::Object(Map::new()));
            let mut obj = old.clone();
            set_sub(&mut obj, sd, value.filter(|_| self.kind != Kind::Remove))?;
            check_subs(def, &old, &obj)?;
            return Ok(non_empty(obj));
        }
        match (self.kind, value) {
            (Kind::Remove, Some(v)) if def.multi_valued => {
                let given = coerce_multi(def, v)?;
                let mut items = into_items(cur);
                items.retain(|e| !given.iter().any(|g| elem_matches(def, e, g)));
                Ok(non_empty(Value::Array(items)))
            }
            (Kind::Remove, _) | (Kind::Replace, None) => Ok(None),
            (Kind::Add, None) => Ok(cur),
            (kind, Some(v)) if def.multi_valued => {
                let old = into_items(cur);
                let new = coerce_multi(def, v)?;
                let mut items = if kind == Kind::Add {
                    old.clone()
                } else {
                    Vec::new()
                };
                for n in new {
                    let same = items.iter().position(|e| same_element(def, e, &n));
                    match same {
                        Some(i) => {
                            if let Some(e) = items.get_mut(i) {
                                merge_into(e, &n);
                            }
                        }
                        None => items.push(n),
                    }
                }
                let base = if kind == Kind::Add { old } else { Vec::new() };
                fix_primary(&base, &mut items);
                Ok(non_empty(Value::Array(items)))
            }
            (_, Some(v)) if def.ty == AttrType::Complex => {
                let new = coerce_single(def, v)?;
                let old = cur.unwrap_or_else(|| Value::Object(Map::new()));
                let mut obj = old.clone();
                let value_changed = get_ci(&new, "value")
                    .is_some_and(|nv| get_ci(&old, "value").is_some_and(|ov| ov != nv));
                if value_changed {
                    // A different referent: drop what described the old one.
                    obj = Value::Object(Map::new());
                }
                merge_into(&mut obj, &new);
                if !value_changed {
                    check_subs(def, &old, &obj)?;
                }
                Ok(non_empty(obj))
            }
            (_, Some(v)) => Ok(Some(coerce_single(def, v)?)),
        }
    }

    /// Operations on selected elements: `attr[filter]`, `attr[filter].sub`, `attr.sub`.
    fn update_elements(&self, cur: Option<Value>) -> ScimResult<Option<Value>> {
        let def = self.def;
        let single = !def.multi_valued;
        let old = into_items(cur);
        let mut selected = Vec::new();
        for (i, e) in old.iter().enumerate() {
            let hit = match self.filter {
                Some(f) => matches_element(self.schema, def, f, e)?,
                None => true,
            };
            if hit {
                selected.push(i);
            }
        }
        let value = self.value.filter(|v| !v.is_null());
        let mut items = old.clone();
        if selected.is_empty() {
            match self.kind {
                Kind::Remove => return Ok(wrap(items, single)),
                Kind::Replace => {
                    return Err(ScimError::no_target(format!(
                        "no value of '{}' matches the path filter",
                        def.name
                    )))
                }
                Kind::Add => {
                    let mut seed = Map::new();
                    if let Some(f) = self.filter {
                        if !assignments(f, &mut seed) {
                            return Err(ScimError::no_target(format!(
                                "no value of '{}' matches the path filter",
                                def.name
                            )));
                        }
                    }
                    if single && !items.is_empty() {
                        return Err(ScimError::no_target("the path filter does not match"));
                    }
                    items.push(coerce_single(def, &Value::Object(seed))?);
                    selected.push(items.len() - 1);
                }
            }
        }
        if self.kind == Kind::Remove && self.sub.is_none() {
            let keep = items
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !selected.contains(i))
                .map(|(_, e)| e)
                .collect();
            return Ok(wrap(keep, single));
        }
        for &i in &selected {
            let Some(e) = items.get_mut(i) else { continue };
            match (self.sub, self.kind) {
                (Some(sd), Kind::Remove) => set_sub(e, sd, None)?,
                (Some(sd), _) => set_sub(e, sd, value)?,
                (None, kind) => {
                    let Some(v) = value else {
                        return Err(ScimError::invalid_value("a value is required"));
                    };
                    let new = coerce_single(def, v)?;
                    if kind == Kind::Replace {
                        // Keep read-only sub-attributes, which clients cannot send.
                        let mut fresh = Value::Object(Map::new());
                        for sd in &def.sub_attributes {
                            if sd.mutability == Mutability::ReadOnly {
                                if let Some(x) = get_ci(e, &sd.name) {
                                    set_raw(&mut fresh, &sd.name, x.clone());
                                }
                            }
                        }
                        *e = fresh;
                    }
                    merge_into(e, &new);
                }
            }
            if let Some(o) = old.get(i) {
                check_subs(def, o, e)?;
            }
        }
        items.retain(|e| non_empty(e.clone()).is_some());
        fix_primary(&old, &mut items);
        Ok(wrap(items, single))
    }
}

/// `type eq "work" and primary eq true` → {"type": "work", "primary": true}.
fn assignments(f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::And(a, b) => assignments(a, out) && assignments(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Num(n) => Value::Number(n.clone()),
                CompValue::Null => return false,
            };
            out.insert(path.attr.clone(), v);
            true
        }
        _ => false,
    }
}

fn wrap(items: Vec<Value>, single: bool) -> Option<Value> {
    if single {
        items.into_iter().next().and_then(non_empty)
    } else {
        non_empty(Value::Array(items))
    }
}

fn into_items(cur: Option<Value>) -> Vec<Value> {
    match cur {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.into_iter().filter(|v| !v.is_null()).collect(),
        Some(v) => vec![v],
    }
}

fn non_empty(v: Value) -> Option<Value> {
    match &v {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Object(o) if o.is_empty() => None,
        _ => Some(v),
    }
}

/// Remove every key equal to `name` ignoring case; return the first value.
fn take_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let keys: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    keys.iter().filter_map(|k| map.remove(k)).next()
}

fn set_raw(obj: &mut Value, name: &str, v: Value) {
    if let Value::Object(m) = obj {
        take_ci(m, name);
        m.insert(name.to_string(), v);
    }
}

/// Set (or with `None`, remove) a sub-attribute of a complex value.
fn set_sub(obj: &mut Value, sd: &AttrDef, v: Option<&Value>) -> ScimResult<()> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let new = match v.filter(|v| !v.is_null()) {
        Some(v) if sd.multi_valued => Some(Value::Array(coerce_multi(sd, v)?)),
        Some(v) => Some(coerce_single(sd, v)?),
        None => None,
    };
    if let Value::Object(m) = obj {
        take_ci(m, &sd.name);
        if let Some(n) = new {
            m.insert(sd.name.clone(), n);
        }
    }
    Ok(())
}

/// Merge the (canonical, coerced) object `new` into `obj`.
fn merge_into(obj: &mut Value, new: &Value) {
    match (obj.is_object(), new) {
        (true, Value::Object(n)) => {
            for (k, v) in n {
                set_raw(obj, k, v.clone());
            }
        }
        _ => *obj = new.clone(),
    }
}

fn is_primary(v: &Value) -> bool {
    get_ci(v, "primary").and_then(Value::as_bool) == Some(true)
}

/// At most one element may be primary: the newest primary one wins.
fn fix_primary(old: &[Value], items: &mut [Value]) {
    let newly = (0..items.len())
        .rev()
        .find(|&i| items.get(i).is_some_and(is_primary) && !old.get(i).is_some_and(is_primary));
    if let Some(keep) = newly {
        for (i, e) in items.iter_mut().enumerate() {
            if i != keep && is_primary(e) {
                set_raw(e, "primary", Value::Bool(false));
            }
        }
    }
}

fn values_eq(def: &AttrDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if def.ty == AttrType::DateTime => {
            normalize_datetime(x).is_some_and(|n| Some(n) == normalize_datetime(y))
        }
        (Value::String(x), Value::String(y)) if !case_exact(def) => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

/// Whether `existing` has every sub-attribute value given in `given`.
fn elem_matches(def: &AttrDef, existing: &Value, given: &Value) -> bool {
    match (def.ty, given) {
        (AttrType::Complex, Value::Object(g)) => {
            !g.is_empty()
                && g.iter().all(|(k, gv)| {
                    let ev = get_ci(existing, k);
                    match def.sub(k) {
                        Some(sd) => ev.is_some_and(|ev| values_eq(sd, ev, gv)),
                        None => false,
                    }
                })
        }
        _ => values_eq(def, existing, given),
    }
}

/// Whether an added element duplicates an existing one: the same `value` (and `type`
/// when both have one) for complex attributes with a `value` sub-attribute, else equal.
fn same_element(def: &AttrDef, existing: &Value, new: &Value) -> bool {
    let (Some(vd), Some(nv)) = (def.sub("value"), get_ci(new, "value")) else {
        return elem_matches(def, existing, new);
    };
    let types_differ = match (
        def.sub("type"),
        get_ci(existing, "type"),
        get_ci(new, "type"),
    ) {
        (Some(td), Some(a), Some(b)) => !values_eq(td, a, b),
        _ => false,
    };
    !types_differ && get_ci(existing, "value").is_some_and(|ev| values_eq(vd, ev, nv))
}

/// Mutability of a whole attribute.
fn check_top(def: &AttrDef, cur: Option<&Value>, new: Option<&Value>) -> ScimResult<()> {
    if cur == new {
        return Ok(());
    }
    // RFC 7644 §3.5.2: a required attribute may not become unassigned.
    if def.required && new.is_none() {
        return Err(ScimError::mutability(format!(
            "'{}' is required and cannot be removed",
            def.name
        )));
    }
    match def.mutability {
        Mutability::ReadOnly => Err(ScimError::mutability(format!("'{}' is readOnly", def.name))),
        Mutability::Immutable if cur.is_some() => Err(ScimError::mutability(format!(
            "'{}' is immutable",
            def.name
        ))),
        _ => Ok(()),
    }
}

/// Mutability of the sub-attributes of one complex value changed in place.
fn check_subs(def: &AttrDef, old: &Value, new: &Value) -> ScimResult<()> {
    for sd in &def.sub_attributes {
        let o = get_ci(old, &sd.name).filter(|v| !v.is_null());
        let n = get_ci(new, &sd.name).filter(|v| !v.is_null());
        if o == n {
            continue;
        }
        let name = format!("{}.{}", def.name, sd.name);
        match sd.mutability {
            Mutability::ReadOnly => {
                return Err(ScimError::mutability(format!("'{name}' is readOnly")))
            }
            Mutability::Immutable if o.is_some() => {
                return Err(ScimError::mutability(format!("'{name}' is immutable")))
            }
            _ => {}
        }
    }
    Ok(())
}

fn wrong(def: &AttrDef, want: &str, v: &Value) -> ScimError {
    ScimError::invalid_value(format!("'{}' must be {want}, not {v}", def.name))
}

/// All values for a multi-valued attribute (a single value counts as one).
fn coerce_multi(def: &AttrDef, v: &Value) -> ScimResult<Vec<Value>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for x in items.into_iter().filter(|x| !x.is_null()) {
        // Elements left empty (only nulls or read-only sub-attributes) are dropped.
        if let Some(v) = non_empty(coerce(def, x)?) {
            out.push(v);
        }
    }
    Ok(out)
}

/// One value for a single-valued attribute (a one-element array is unwrapped).
fn coerce_single(def: &AttrDef, v: &Value) -> ScimResult<Value> {
    match v {
        Value::Array(a) if a.len() == 1 => a.first().map_or(Ok(Value::Null), |x| coerce(def, x)),
        Value::Array(_) => Err(wrong(def, "a single value", v)),
        _ => coerce(def, v),
    }
}

/// Check a value against the attribute type, converting the lenient forms clients send.
fn coerce(def: &AttrDef, v: &Value) -> ScimResult<Value> {
    match (def.ty, v) {
        (AttrType::Complex, Value::Object(o)) => {
            let mut out = Map::new();
            for (k, x) in o {
                let sd = def.sub(k).ok_or_else(|| {
                    ScimError::invalid_value(format!("'{}' has no sub-attribute '{k}'", def.name))
                })?;
                // Read-only sub-attributes of writable attributes are ignored; for a
                // read-only attribute they are kept so that the change is refused.
                let ignored =
                    sd.mutability == Mutability::ReadOnly && def.mutability != Mutability::ReadOnly;
                if x.is_null() || ignored {
                    continue;
                }
                let x = if sd.multi_valued {
                    Value::Array(coerce_multi(sd, x)?)
                } else {
                    coerce_single(sd, x)?
                };
                out.insert(sd.name.clone(), x);
            }
            Ok(Value::Object(out))
        }
        (AttrType::Complex, Value::String(_) | Value::Number(_)) if def.sub("value").is_some() => {
            let mut o = Map::new();
            o.insert("value".into(), v.clone());
            coerce(def, &Value::Object(o))
        }
        (AttrType::Complex, _) => Err(wrong(def, "an object", v)),
        (AttrType::Boolean, Value::Bool(_)) => Ok(v.clone()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Value::Bool(true))
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Value::Bool(false))
        }
        (AttrType::Boolean, _) => Err(wrong(def, "a boolean", v)),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        (AttrType::Integer, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| wrong(def, "an integer", v)),
        (AttrType::Integer, _) => Err(wrong(def, "an integer", v)),
        (AttrType::Decimal, Value::Number(_)) => Ok(v.clone()),
        (AttrType::Decimal, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| wrong(def, "a decimal", v)),
        (AttrType::Decimal, _) => Err(wrong(def, "a decimal", v)),
        (AttrType::DateTime, Value::String(s)) if normalize_datetime(s).is_some() => Ok(v.clone()),
        (AttrType::DateTime, _) => Err(wrong(def, "a dateTime", v)),
        (_, Value::String(_)) => Ok(v.clone()),
        (_, Value::Number(n)) => Ok(Value::String(n.to_string())),
        _ => Err(wrong(def, "a string", v)),
    }
}

/// The extension object for `urn` in the resource, created when missing.
fn ext_container<'d>(work: &'d mut Value, urn: &str) -> ScimResult<&'d mut Map<String, Value>> {
    let root = work
        .as_object_mut()
        .ok_or_else(|| ScimError::invalid_syntax("the resource is not a JSON object"))?;
    let key = root
        .keys()
        .find(|k| k.eq_ignore_ascii_case(urn))
        .cloned()
        .unwrap_or_else(|| urn.to_string());
    let entry = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry
        .as_object_mut()
        .ok_or_else(|| ScimError::invalid_syntax("bad extension object"))
}

/// After changes to extension attributes: drop empty extension objects and keep
/// `schemas` listing exactly the extensions present (required ones stay listed).
fn sync_extensions(schema: &ResourceSchema, work: &mut Value, touched: &[String]) {
    let Some(root) = work.as_object_mut() else {
        return;
    };
    for (ext, required) in &schema.extensions {
        if !touched.iter().any(|t| t.eq_ignore_ascii_case(&ext.id)) {
            continue;
        }
        let present = match take_ci(root, &ext.id) {
            Some(v) => match non_empty(v) {
                Some(v) => {
                    root.insert(ext.id.clone(), v);
                    true
                }
                None => false,
            },
            None => false,
        };
        let schemas = take_ci(root, "schemas").unwrap_or_else(|| Value::Array(Vec::new()));
        let mut list: Vec<Value> = match schemas {
            Value::Array(a) => a,
            other => vec![other],
        };
        let listed = list
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)));
        if present && !listed {
            if list.is_empty() {
                list.push(Value::String(schema.core.id.clone()));
            }
            list.push(Value::String(ext.id.clone()));
        } else if !present && listed && !required {
            list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)));
        }
        root.insert("schemas".into(), Value::Array(list));
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::ScimType;
    use super::super::filter::tests::{bjensen, group_schema, user_schema, ENT, USER};
    use super::*;
    use serde_json::json;

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    fn user_patch(doc: &mut Value, ops: Value) -> ScimResult<bool> {
        apply_patch(&user_schema(), doc, &body(ops))
    }

    fn group() -> Value {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
               "displayName": "Tour Guides",
               "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
                           {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}],
               "meta": {"resourceType": "Group", "version": "W/\"1\""}})
    }

    fn group_patch(doc: &mut Value, ops: Value) -> ScimResult<bool> {
        apply_patch(&group_schema(), doc, &body(ops))
    }

    fn fails(doc: &Value, ops: Value, ty: ScimType) {
        let mut d = doc.clone();
        let e = match user_patch(&mut d, ops.clone()) {
            Err(e) => e,
            Ok(c) => panic!("{ops} succeeded ({c}): {d}"),
        };
        assert_eq!(e.scim_type, Some(ty), "{ops}: {e}");
        assert_eq!(&d, doc, "document must be untouched on error");
    }

    fn member_ids(g: &Value) -> Vec<&str> {
        g["members"].as_array().map_or(vec![], |a| {
            a.iter().map(|m| m["value"].as_str().unwrap()).collect()
        })
    }

    #[test]
    fn body_validation() {
        let mut d = bjensen();
        let ops = json!([{"op": "replace", "path": "title", "value": "x"}]);
        let e = apply_patch(&user_schema(), &mut d, &json!({"Operations": ops})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = apply_patch(
            &user_schema(),
            &mut d,
            &json!({"schemas": ["urn:x"], "Operations": ops}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        for bad in [json!([]), json!({}), json!(null)] {
            let e = apply_patch(
                &user_schema(),
                &mut d,
                &json!({"schemas": [PATCH_OP_SCHEMA], "Operations": bad}),
            )
            .unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        }
        fails(
            &d,
            json!([{"op": "move", "path": "title", "value": "x"}]),
            ScimType::InvalidSyntax,
        );
        assert_eq!(d, bjensen());
    }

    #[test]
    fn rfc_add_examples() {
        // §3.5.2.1: add a member.
        let mut g = group();
        let ops = json!([{"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223", "value": "2819c223"}]}]);
        assert!(group_patch(&mut g, ops.clone()).unwrap());
        assert_eq!(member_ids(&g).len(), 3);
        // Adding it again changes nothing.
        assert!(!group_patch(&mut g, ops).unwrap());
        // Add without path: attributes merged, multi-valued appended.
        let mut u = bjensen();
        let ops = json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b2@x.org", "type": "other"}], "nickname": "Babs"}}]);
        assert!(user_patch(&mut u, ops).unwrap());
        assert_eq!(u["emails"].as_array().unwrap().len(), 3);
        assert_eq!(u["nickName"], "Babs");
        // Add to a complex attribute merges sub-attributes.
        assert!(user_patch(&mut u, json!([{"op": "add", "path": "name", "value": {"formatted": null, "givenName": "Barb"}}])).unwrap());
        assert_eq!(u["name"]["givenName"], "Barb");
        assert_eq!(u["name"]["familyName"], "Jensen");
        assert_eq!(u["name"]["formatted"], "Ms. Barbara J Jensen III");
    }

    #[test]
    fn rfc_remove_examples() {
        let mut g = group();
        // Remove one member by filter.
        assert!(group_patch(&mut g, json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}])).unwrap());
        assert_eq!(member_ids(&g), ["902c246b-6245-4190-8e05-00816be7344a"]);
        // No match: nothing changes.
        assert!(!group_patch(
            &mut g,
            json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}])
        )
        .unwrap());
        // Remove all members.
        assert!(group_patch(&mut g, json!([{"op": "remove", "path": "members"}])).unwrap());
        assert!(g.get("members").is_none());
        // Remove all members then add new ones (RFC example with two ops).
        let mut g = group();
        group_patch(&mut g, json!([{"op": "remove", "path": "members"}, {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}])).unwrap();
        assert_eq!(member_ids(&g), ["a", "b"]);
        // Remove a sub-attribute of matching elements.
        let mut u = bjensen();
        assert!(user_patch(
            &mut u,
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}])
        )
        .unwrap());
        assert!(u["emails"][0].get("primary").is_none());
        assert!(user_patch(&mut u, json!([{"op": "remove", "path": "name.formatted"}])).unwrap());
        assert!(u["name"].get("formatted").is_none());
        // Remove without a path.
        fails(&bjensen(), json!([{"op": "remove"}]), ScimType::NoTarget);
    }

    #[test]
    fn rfc_replace_examples() {
        let mut g = group();
        assert!(group_patch(&mut g, json!([{"op": "replace", "path": "members", "value": [{"display": "James Smith", "value": "08e1d05d"}]}])).unwrap());
        assert_eq!(member_ids(&g), ["08e1d05d"]);
        let mut u = bjensen();
        assert!(user_patch(&mut u, json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"type": "work", "value": "bjensen@work.example.com"}}])).unwrap());
        assert_eq!(u["emails"][0]["value"], "bjensen@work.example.com");
        assert!(u["emails"][0].get("primary").is_none());
        assert!(user_patch(&mut u, json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "b@home.org"}])).unwrap());
        assert_eq!(u["emails"][1]["value"], "b@home.org");
        assert_eq!(u["emails"][1]["type"], "home");
        fails(
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y"}]),
            ScimType::NoTarget,
        );
        // Replace without path (Okta).
        let mut u = bjensen();
        assert!(user_patch(
            &mut u,
            json!([{"op": "replace", "value": {"active": false}}])
        )
        .unwrap());
        assert_eq!(u["active"], false);
        assert!(!user_patch(
            &mut u,
            json!([{"op": "replace", "value": {"active": false}}])
        )
        .unwrap());
        // Replace of a complex attribute merges sub-attributes.
        assert!(user_patch(
            &mut u,
            json!([{"op": "replace", "path": "name", "value": {"givenName": "B"}}])
        )
        .unwrap());
        assert_eq!(
            u["name"],
            json!({"givenName": "B", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"})
        );
        // Null clears.
        assert!(user_patch(
            &mut u,
            json!([{"op": "replace", "path": "title", "value": null}])
        )
        .unwrap());
        assert!(u.get("title").is_none());
    }

    #[test]
    fn entra_sequences() {
        let mut g = group();
        assert!(group_patch(&mut g, json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])).unwrap());
        assert_eq!(
            g["displayName"],
            "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
        );
        assert!(group_patch(&mut g, json!([{"op": "Add", "path": "members", "value": [{"value": "6c9fd8d5"}, {"value": "c1b6c0d9"}]}])).unwrap());
        assert_eq!(member_ids(&g).len(), 4);
        assert!(group_patch(&mut g, json!([{"op": "Remove", "path": "members", "value": [{"value": "6c9fd8d5"}, {"value": "2819c223-7f76-453a-919d-413861904646"}]}])).unwrap());
        assert_eq!(
            member_ids(&g),
            ["902c246b-6245-4190-8e05-00816be7344a", "c1b6c0d9"]
        );

        let mut u = bjensen();
        let ops = json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "manager-id-2"},
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"},
            {"op": "Add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7", "name.givenName": "Barbie", "externalId": "ext"}}
        ]);
        assert!(user_patch(&mut u, ops).unwrap());
        assert_eq!(u["emails"][0]["value"], "updatedEmail@microsoft.com");
        assert_eq!(u["name"]["familyName"], "updatedFamilyName");
        assert_eq!(u["name"]["givenName"], "Barbie");
        assert_eq!(u["active"], false);
        assert_eq!(u["externalId"], "ext");
        assert_eq!(u[ENT]["department"], "Sales");
        assert_eq!(u[ENT]["employeeNumber"], "7");
        assert_eq!(u[ENT]["manager"], json!({"value": "manager-id-2"}));
        assert_eq!(
            u["phoneNumbers"],
            json!([{"type": "work", "value": "+1 555 0100"}])
        );
        // Manager removal.
        assert!(user_patch(&mut u, json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "manager-id-2"}])).unwrap());
        assert!(u[ENT].get("manager").is_none());
        // Booleans as strings, any case.
        assert!(user_patch(
            &mut u,
            json!([{"op": "Replace", "path": "active", "value": "TRUE"}])
        )
        .unwrap());
        assert_eq!(u["active"], true);
        assert!(user_patch(
            &mut u,
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].primary", "value": "False"}])
        )
        .unwrap());
        assert_eq!(u["emails"][0]["primary"], false);
    }

    #[test]
    fn extensions_and_schemas() {
        let mut u = json!({"schemas": [USER], "id": "x", "userName": "a"});
        assert!(user_patch(&mut u, json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m1"}])).unwrap());
        assert_eq!(u[ENT]["manager"]["value"], "m1");
        assert_eq!(u["schemas"], json!([USER, ENT]));
        assert!(user_patch(&mut u, json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}])).unwrap());
        assert!(u.get(ENT).is_none());
        assert_eq!(u["schemas"], json!([USER]));
        // Whole extension object, keys in any case.
        assert!(user_patch(
            &mut u,
            json!([{"op": "add", "value": {ENT: {"Department": "Ops"}, "USERNAME": "b"}}])
        )
        .unwrap());
        assert_eq!(u[ENT], json!({"department": "Ops"}));
        assert_eq!(u["userName"], "b");
        assert!(user_patch(
            &mut u,
            json!([{"op": "replace", "path": ENT, "value": {"employeeNumber": "9"}}])
        )
        .unwrap());
        assert_eq!(u[ENT], json!({"department": "Ops", "employeeNumber": "9"}));
        assert!(user_patch(&mut u, json!([{"op": "remove", "path": ENT}])).unwrap());
        assert!(u.get(ENT).is_none());
        assert_eq!(u["schemas"], json!([USER]));
        // Non-canonical key case in the stored doc is normalised.
        let mut u = json!({"schemas": [USER], "USERNAME": "a", "NAME": {"GIVENNAME": "x"}});
        user_patch(&mut u, json!([{"op": "replace", "path": "name.givenName", "value": "y"}, {"op": "replace", "path": "username", "value": "c"}])).unwrap();
        assert_eq!(
            u,
            json!({"schemas": [USER], "userName": "c", "name": {"givenName": "y"}})
        );
    }

    #[test]
    fn primary_is_unique() {
        let mut u = bjensen();
        assert!(user_patch(&mut u, json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.org", "type": "other", "primary": true}]}])).unwrap());
        let prim: Vec<bool> = u["emails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["primary"] == true)
            .collect();
        assert_eq!(prim, [false, false, true]);
        assert!(user_patch(
            &mut u,
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}])
        )
        .unwrap());
        let prim: Vec<bool> = u["emails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["primary"] == true)
            .collect();
        assert_eq!(prim, [false, true, false]);
    }

    #[test]
    fn mutability() {
        let d = bjensen();
        fails(
            &d,
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            ScimType::Mutability,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            ScimType::Mutability,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "meta.version", "value": "x"}]),
            ScimType::Mutability,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "x"}]),
            ScimType::Mutability,
        );
        // Same value: allowed, nothing changes.
        let mut u = d.clone();
        assert!(!user_patch(
            &mut u,
            json!([{"op": "replace", "value": {"id": d["id"].clone()}}])
        )
        .unwrap());
        // Immutable sub-attribute of a group member.
        let mut g = group();
        let e = group_patch(&mut g, json!([{"op": "replace", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].value", "value": "zzz"}])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        assert!(group_patch(&mut g, json!([{"op": "replace", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].display", "value": "Mandy P"}])).unwrap());
        assert_eq!(g["members"][1]["display"], "Mandy P");
    }

    #[test]
    fn errors_leave_doc_untouched() {
        let d = bjensen();
        fails(
            &d,
            json!([{"op": "replace", "path": "title", "value": "ok"}, {"op": "replace", "path": "nosuch", "value": 1}]),
            ScimType::InvalidPath,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "name.nosuch", "value": "x"}]),
            ScimType::InvalidPath,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "emails[type eq \"work\"].nosuch", "value": "x"}]),
            ScimType::InvalidPath,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "title[value eq \"x\"]", "value": "x"}]),
            ScimType::InvalidPath,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
            ScimType::InvalidPath,
        );
        fails(
            &d,
            json!([{"op": "add", "value": {"nosuch": 1}}]),
            ScimType::InvalidPath,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "active", "value": 1}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "loginCount", "value": "x"}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "loginCount", "value": 1.5}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "birthday", "value": "soon"}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "userName", "value": true}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "userName", "value": ["a", "b"]}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "replace", "path": "name", "value": "x"}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "emails", "value": [{"value": "a", "bogus": 1}]}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "title"}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "add", "value": "x"}]),
            ScimType::InvalidValue,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "emails[type eq \"other\" or primary eq false]", "value": {"value": "x"}}]),
            ScimType::NoTarget,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "emails[primary gt true]", "value": {"value": "x"}}]),
            ScimType::InvalidFilter,
        );
        fails(
            &d,
            json!([{"op": "add", "path": "emails[type pr].value.x", "value": "x"}]),
            ScimType::InvalidPath,
        );
        fails(
            &d,
            json!([{"op": "add", "path": 7, "value": "x"}]),
            ScimType::InvalidPath,
        );
    }

    #[test]
    fn coercions() {
        let mut u = bjensen();
        user_patch(&mut u, json!([{"op": "replace", "value": {"loginCount": "42", "score": "1.5", "userName": ["solo"], "employeeNumber": 77}}])).unwrap();
        assert_eq!(u["loginCount"], 42);
        assert_eq!(u["score"], 1.5);
        assert_eq!(u["userName"], "solo");
        assert_eq!(u[ENT]["employeeNumber"], "77");
        // Add of an existing address merges instead of duplicating.
        user_patch(&mut u, json!([{"op": "add", "path": "emails", "value": {"value": "BJENSEN@example.com", "type": "work", "display": "B"}}])).unwrap();
        assert_eq!(u["emails"].as_array().unwrap().len(), 2);
        assert_eq!(u["emails"][0]["display"], "B");
    }

    fn arb_path() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Value::Null),
            Just(json!("members")),
            Just(json!("emails")),
            Just(json!("emails[type eq \"work\"].value")),
            Just(json!("emails[type eq \"work\"]")),
            Just(json!("emails.primary")),
            Just(json!("name.givenName")),
            Just(json!("name")),
            Just(json!("active")),
            Just(json!("groups")),
            Just(json!("members[value eq \"a\"].display")),
            Just(json!(ENT)),
            Just(json!(format!("{ENT}:manager"))),
            Just(json!(format!("{ENT}:manager.value"))),
            ".{0,30}".prop_map(Value::String),
        ]
    }

    fn arb_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z]{0,6}".prop_map(Value::String),
            Just(json!("True")),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("value".to_string()),
                            Just("type".to_string()),
                            Just("primary".to_string()),
                            Just("active".to_string()),
                            Just(ENT.to_string()),
                            Just("name".to_string()),
                            Just("givenName".to_string()),
                            "[a-z]{1,5}"
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn patch_never_panics(
            ops in proptest::collection::vec(
                (proptest::prop_oneof![proptest::strategy::Just("add"), proptest::strategy::Just("Replace"), proptest::strategy::Just("remove"), proptest::strategy::Just("x")], arb_path(), arb_value()),
                1..5,
            )
        ) {
            let ops: Vec<Value> = ops
                .into_iter()
                .map(|(op, path, value)| json!({"op": op, "path": path, "value": value}))
                .collect();
            let mut u = bjensen();
            let before = u.clone();
            if user_patch(&mut u, json!(ops)).is_err() {
                proptest::prop_assert_eq!(&u, &before);
            }
            let mut g = group();
            let _ = group_patch(&mut g, json!(ops));
        }
    }
}
