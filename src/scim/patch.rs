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
#[path = "patch_tests.rs"]
mod tests;
