//! SCIM schema documents (RFC 7643 §5–§8), the discovery endpoints built from them, and
//! schema-driven input validation (RFC 7644 §3.3, §3.5.1) and attribute projection
//! (RFC 7644 §3.4.2.5, §3.9). The JSON documents live in the top-level `scim/` folder.
//!
//! The loaded [`ResourceSchema`]s also carry the common attributes `id`, `externalId` and
//! `meta` (RFC 7643 §3.1) in their core schema so lookups, filters and projection find
//! them; the served schema documents do not list them, as in RFC 7643 §8.7.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::attrs::{AttrDef, AttrType, Mutability, ResourceSchema, Returned, SchemaDoc};
use super::error::{ScimError, ScimResult};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

const USER_JSON: &str = include_str!("../../scim/schemas/User.json");
const ENTERPRISE_JSON: &str = include_str!("../../scim/schemas/EnterpriseUser.json");
const GROUP_JSON: &str = include_str!("../../scim/schemas/Group.json");
const RESOURCE_TYPES_JSON: &str = include_str!("../../scim/ResourceTypes.json");
const SPC_JSON: &str = include_str!("../../scim/ServiceProviderConfig.json");

/// The common attributes of RFC 7643 §3.1, added to each loaded core schema.
const COMMON_JSON: &str = r#"[
 {"name":"id","type":"string","caseExact":true,"mutability":"readOnly","returned":"always","uniqueness":"server"},
 {"name":"externalId","type":"string","caseExact":true},
 {"name":"meta","type":"complex","mutability":"readOnly","subAttributes":[
  {"name":"resourceType","type":"string","caseExact":true,"mutability":"readOnly"},
  {"name":"created","type":"dateTime","mutability":"readOnly"},
  {"name":"lastModified","type":"dateTime","mutability":"readOnly"},
  {"name":"location","type":"reference","referenceTypes":["uri"],"caseExact":true,"mutability":"readOnly"},
  {"name":"version","type":"string","caseExact":true,"mutability":"readOnly"}]}]"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceTypeDoc {
    id: String,
    name: String,
    schema: String,
    #[serde(default)]
    schema_extensions: Vec<ExtensionRef>,
}

#[derive(Deserialize)]
struct ExtensionRef {
    schema: String,
    #[serde(default)]
    required: bool,
}

struct Loaded {
    user: ResourceSchema,
    group: ResourceSchema,
    schema_docs: Vec<Value>,
    resource_types: Vec<Value>,
    spc: Value,
}

fn load() -> Result<Loaded, String> {
    let parse = |name: &str, text: &str| -> Result<Value, String> {
        serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))
    };
    let schema_docs = vec![
        parse("User.json", USER_JSON)?,
        parse("EnterpriseUser.json", ENTERPRISE_JSON)?,
        parse("Group.json", GROUP_JSON)?,
    ];
    let typed = schema_docs
        .iter()
        .map(|v| SchemaDoc::deserialize(v).map_err(|e| format!("schema document: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let common: Vec<AttrDef> = serde_json::from_str(COMMON_JSON).map_err(|e| e.to_string())?;
    let resource_types = match parse("ResourceTypes.json", RESOURCE_TYPES_JSON)? {
        Value::Array(a) => a,
        _ => return Err("ResourceTypes.json must be an array".into()),
    };
    let doc = |urn: &str| {
        typed
            .iter()
            .find(|d| d.id == urn)
            .cloned()
            .ok_or_else(|| format!("no schema document {urn}"))
    };
    let build = |id: &str| -> Result<ResourceSchema, String> {
        let rt = resource_types
            .iter()
            .find(|r| r["id"] == id)
            .ok_or_else(|| format!("no resource type {id}"))?;
        let rt = ResourceTypeDoc::deserialize(rt).map_err(|e| format!("{id}: {e}"))?;
        let mut core = doc(&rt.schema)?;
        core.attributes.extend(common.iter().cloned());
        let extensions = rt
            .schema_extensions
            .iter()
            .map(|e| Ok((doc(&e.schema)?, e.required)))
            .collect::<Result<Vec<_>, String>>()?;
        let name = if rt.name.is_empty() { rt.id } else { rt.name };
        Ok(ResourceSchema {
            name,
            core,
            extensions,
        })
    };
    Ok(Loaded {
        user: build("User")?,
        group: build("Group")?,
        spc: parse("ServiceProviderConfig.json", SPC_JSON)?,
        schema_docs,
        resource_types,
    })
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    // The documents are compiled in and `tests::documents_load` proves they parse.
    LOADED.get_or_init(|| load().unwrap_or_else(|e| panic!("bad SCIM schema files: {e}")))
}

/// The User resource type: core User schema plus the enterprise extension.
pub fn user() -> &'static ResourceSchema {
    &loaded().user
}

/// The Group resource type.
pub fn group() -> &'static ResourceSchema {
    &loaded().group
}

/// A served copy of `doc` with `meta` (RFC 7643 §3.1) for `{base}/{path}`.
fn served(doc: &Value, resource_type: &str, base: &str, path: &str) -> Value {
    let mut doc = doc.clone();
    if let Some(obj) = doc.as_object_mut() {
        let location = format!("{base}/{path}");
        let meta = json!({"resourceType": resource_type, "location": location});
        obj.insert("meta".into(), meta);
    }
    doc
}

fn id_of(doc: &Value) -> &str {
    doc["id"].as_str().unwrap_or("")
}

/// `/ServiceProviderConfig` (RFC 7643 §5); `base` is e.g. `http://acme.localhost:8080/scim/v2`.
pub fn service_provider_config(base: &str) -> Value {
    let spc = &loaded().spc;
    served(spc, "ServiceProviderConfig", base, "ServiceProviderConfig")
}

fn resource_type_doc(base: &str, r: &Value) -> Value {
    served(
        r,
        "ResourceType",
        base,
        &format!("ResourceTypes/{}", id_of(r)),
    )
}

/// `/ResourceTypes` (RFC 7643 §6).
pub fn resource_types(base: &str) -> Vec<Value> {
    let rts = loaded().resource_types.iter();
    rts.map(|r| resource_type_doc(base, r)).collect()
}

/// `/ResourceTypes/{id}`; `id` compares case-insensitively.
pub fn resource_type_by_id(base: &str, id: &str) -> Option<Value> {
    let mut rts = loaded().resource_types.iter();
    let r = rts.find(|r| id_of(r).eq_ignore_ascii_case(id))?;
    Some(resource_type_doc(base, r))
}

fn schema_doc(base: &str, d: &Value) -> Value {
    served(d, "Schema", base, &format!("Schemas/{}", id_of(d)))
}

/// `/Schemas` (RFC 7643 §7): User, EnterpriseUser, Group.
pub fn schemas(base: &str) -> Vec<Value> {
    let docs = loaded().schema_docs.iter();
    docs.map(|d| schema_doc(base, d)).collect()
}

/// `/Schemas/{urn}`; the URN compares case-insensitively.
pub fn schema_by_id(base: &str, id: &str) -> Option<Value> {
    let mut docs = loaded().schema_docs.iter();
    let d = docs.find(|d| id_of(d).eq_ignore_ascii_case(id))?;
    Some(schema_doc(base, d))
}

// ---------------------------------------------------------------------------------------
// Validation

/// Whether a body is for a create (POST) or a full replace (PUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Replace,
}

fn find_def<'a>(defs: &'a [AttrDef], name: &str) -> Option<&'a AttrDef> {
    defs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The rest of `key` after `{urn}:` (case-insensitive), if `key` starts so.
fn strip_urn<'a>(key: &'a str, urn: &str) -> Option<&'a str> {
    let head = key.get(..urn.len())?;
    let rest = key.get(urn.len()..)?.strip_prefix(':')?;
    head.eq_ignore_ascii_case(urn).then_some(rest)
}

/// Checks an input body against `schema` and returns the normalized resource to store:
/// canonical attribute names, extension attributes under their URN, no read-only or
/// write-only attributes, no nulls or empty values, and no `id`/`meta` (the caller adds
/// them). For [`Mode::Replace`], `existing` is the stored resource: immutable attributes
/// may not change and, when omitted, keep their stored value.
pub fn validate(
    schema: &ResourceSchema,
    input: &Value,
    mode: Mode,
    existing: Option<&Value>,
) -> ScimResult<Value> {
    let obj = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let listed = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must be an array of URNs"))?;
    let mut has_core = false;
    for urn in listed {
        let urn = urn
            .as_str()
            .ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must contain strings"))?;
        // Vendor schema URNs (Entra ID lists one of Microsoft's on every Group) are
        // ignored like the vendor attributes they announce; the other core schema is not.
        if urn.eq_ignore_ascii_case(&schema.core.id) {
            has_core = true;
        } else if schema.extension(urn).is_none()
            && urn.starts_with("urn:ietf:params:scim:schemas:core:")
        {
            return Err(ScimError::invalid_value(format!(
                "schema {urn} is not supported for {}",
                schema.name
            )));
        }
    }
    if !has_core {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must contain {}",
            schema.core.id
        )));
    }

    // Group raw values by schema, under canonical names: extension objects first, then
    // flat URN-qualified keys (so they win whatever the key order).
    let mut core_raw = Map::new();
    let mut ext_raw = vec![Map::new(); schema.extensions.len()];
    for (key, value) in obj {
        if let Some(i) = ext_index(schema, key) {
            match value {
                Value::Null => {}
                Value::Object(inner) => {
                    let doc = &schema.extensions[i].0;
                    for (k, v) in inner {
                        if let Some(def) = find_def(&doc.attributes, k) {
                            ext_raw[i].insert(def.name.clone(), v.clone());
                        }
                    }
                }
                _ => {
                    let msg = format!("{key} must be an object");
                    return Err(ScimError::invalid_value(msg));
                }
            }
        }
    }
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") || ext_index(schema, key).is_some() {
            continue;
        }
        let flat_ext = schema
            .extensions
            .iter()
            .enumerate()
            .find_map(|(i, (d, _))| {
                strip_urn(key, &d.id).and_then(|n| Some((i, find_def(&d.attributes, n)?)))
            });
        if let Some((i, def)) = flat_ext {
            ext_raw[i].insert(def.name.clone(), value.clone());
            continue;
        }
        let name = strip_urn(key, &schema.core.id).unwrap_or(key);
        if let Some(def) = find_def(&schema.core.attributes, name) {
            core_raw.insert(def.name.clone(), value.clone());
        }
    }

    let prev = match mode {
        Mode::Replace => existing.and_then(Value::as_object),
        Mode::Create => None,
    };
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Null); // first in key order; filled in below
    out.extend(normalize_attrs(
        &schema.core.attributes,
        &core_raw,
        prev,
        "",
    )?);
    let mut urns = vec![json!(schema.core.id)];
    for (i, (doc, required)) in schema.extensions.iter().enumerate() {
        let prev_ext = prev
            .and_then(|p| get_ci(p, &doc.id))
            .and_then(Value::as_object);
        let prefix = format!("{}:", doc.id);
        let attrs = normalize_attrs(&doc.attributes, &ext_raw[i], prev_ext, &prefix)?;
        if attrs.is_empty() {
            if *required {
                let msg = format!("extension {} is required", doc.id);
                return Err(ScimError::invalid_value(msg));
            }
            continue;
        }
        urns.push(json!(doc.id));
        out.insert(doc.id.clone(), Value::Object(attrs));
    }
    out.insert("schemas".into(), Value::Array(urns));
    Ok(Value::Object(out))
}

fn ext_index(schema: &ResourceSchema, key: &str) -> Option<usize> {
    let exts = &schema.extensions;
    exts.iter()
        .position(|(d, _)| d.id.eq_ignore_ascii_case(key))
}

/// Normalizes the attributes `defs` of one object (`raw` holds canonical names).
fn normalize_attrs(
    defs: &[AttrDef],
    raw: &Map<String, Value>,
    prev: Option<&Map<String, Value>>,
    prefix: &str,
) -> ScimResult<Map<String, Value>> {
    let mut out = Map::new();
    for def in defs {
        if matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
            continue;
        }
        let path = format!("{prefix}{}", def.name);
        let value = match raw.get(&def.name) {
            None | Some(Value::Null) => None,
            Some(v) => {
                let old = prev.and_then(|p| get_ci(p, &def.name));
                normalize_value(def, v, &path, old.and_then(Value::as_object))?
            }
        };
        let old = prev
            .and_then(|p| get_ci(p, &def.name))
            .filter(|v| !v.is_null());
        let value = match (value, old) {
            (None, Some(old)) if def.mutability == Mutability::Immutable => Some(old.clone()),
            (Some(new), Some(old)) if def.mutability == Mutability::Immutable => {
                if !same_value(def, &new, old) {
                    let msg = format!("{path} is immutable and cannot be changed");
                    return Err(ScimError::mutability(msg));
                }
                Some(new)
            }
            (v, _) => v,
        };
        let empty = match &value {
            None => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if def.required && empty {
            return Err(ScimError::invalid_value(format!("{path} is required")));
        }
        if let Some(v) = value {
            out.insert(def.name.clone(), v);
        }
    }
    Ok(out)
}

/// Normalizes one attribute value; `None` when it is empty (unassigned).
/// `prev` is the stored value of a single-valued complex attribute (Replace mode).
fn normalize_value(
    def: &AttrDef,
    value: &Value,
    path: &str,
    prev: Option<&Map<String, Value>>,
) -> ScimResult<Option<Value>> {
    if !def.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!("{path} is single-valued")));
        }
        return normalize_single(def, value, path, prev);
    }
    let items = match value {
        Value::Array(a) => a.iter().collect(),
        single => vec![single],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.into_iter().filter(|v| !v.is_null()) {
        if let Some(v) = normalize_single(def, item, path, None)? {
            out.push(v);
        }
    }
    let primaries = out.iter().filter(|v| v["primary"] == json!(true)).count();
    if primaries > 1 {
        let msg = format!("at most one value of {path} may be primary");
        return Err(ScimError::invalid_value(msg));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn normalize_single(
    def: &AttrDef,
    value: &Value,
    path: &str,
    prev: Option<&Map<String, Value>>,
) -> ScimResult<Option<Value>> {
    let bad = |what: &str| Err(ScimError::invalid_value(format!("{path} must be {what}")));
    let ok = |v: Value| Ok(Some(v));
    match (def.ty, value) {
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => {
            ok(value.clone())
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => bad("a string"),
        (AttrType::Boolean, Value::Bool(_)) => ok(value.clone()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => ok(json!(true)),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            ok(json!(false))
        }
        (AttrType::Boolean, _) => bad("a boolean"),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => ok(value.clone()),
        (AttrType::Integer, _) => bad("an integer"),
        (AttrType::Decimal, Value::Number(_)) => ok(value.clone()),
        (AttrType::Decimal, _) => bad("a number"),
        (AttrType::DateTime, Value::String(s)) if is_datetime(s) => ok(value.clone()),
        (AttrType::DateTime, _) => bad("an RFC 3339 date-time"),
        (AttrType::Complex, Value::Object(obj)) => {
            let mut raw = Map::new();
            for (k, v) in obj {
                if let Some(sub) = find_def(&def.sub_attributes, k) {
                    raw.insert(sub.name.clone(), v.clone());
                }
            }
            let subs = normalize_attrs(&def.sub_attributes, &raw, prev, &format!("{path}."))?;
            Ok((!subs.is_empty()).then_some(Value::Object(subs)))
        }
        (AttrType::Complex, _) => bad("an object"),
    }
}

fn is_datetime(s: &str) -> bool {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(s, rfc3339).is_ok()
}

/// Equality for the immutability check: strings per `caseExact`.
fn same_value(def: &AttrDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !def.case_exact => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------
// Projection

/// One requested attribute path: schema URN, attribute and optional sub-attribute, all
/// canonical.
struct Sel<'a> {
    urn: &'a str,
    attr: &'a str,
    sub: Option<&'a str>,
}

/// `None` when the list is absent or blank; names not in the schema are skipped.
fn parse_paths<'a>(schema: &'a ResourceSchema, list: Option<&str>) -> Option<Vec<Sel<'a>>> {
    let list = list.filter(|l| !l.trim().is_empty())?;
    let docs: Vec<&SchemaDoc> = std::iter::once(&schema.core)
        .chain(schema.extensions.iter().map(|(d, _)| d))
        .collect();
    let mut out = Vec::new();
    for path in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(doc) = docs.iter().find(|d| d.id.eq_ignore_ascii_case(path)) {
            let whole = doc.attributes.iter().map(|a| Sel {
                urn: &doc.id,
                attr: &a.name,
                sub: None,
            });
            out.extend(whole);
            continue;
        }
        let qualified = docs
            .iter()
            .find_map(|d| strip_urn(path, &d.id).map(|rest| (d.id.as_str(), rest)));
        let (urn, rest) = match qualified {
            Some((urn, rest)) => (Some(urn), rest),
            None => (None, path),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let Some(found) = schema.lookup(urn, name) else {
            continue;
        };
        let sub = match sub {
            None => None,
            Some(s) => match found.def.sub(s) {
                Some(d) => Some(d.name.as_str()),
                None => continue,
            },
        };
        out.push(Sel {
            urn: found.urn,
            attr: &found.def.name,
            sub,
        });
    }
    Some(out)
}

/// Which of a selection's paths touch `urn`/`attr`: (whole attribute listed, any
/// sub-attribute listed).
fn listed(sels: &[Sel<'_>], urn: &str, attr: &str) -> (bool, bool) {
    let mine = sels.iter().filter(|s| s.urn == urn && s.attr == attr);
    mine.fold((false, false), |(w, s), sel| {
        (w || sel.sub.is_none(), s || sel.sub.is_some())
    })
}

fn sub_listed(sels: &[Sel<'_>], urn: &str, attr: &str, sub: &str) -> bool {
    let hit = |s: &Sel<'_>| s.urn == urn && s.attr == attr && s.sub == Some(sub);
    sels.iter().any(hit)
}

/// Applies `attributes` / `excludedAttributes` (comma-separated, possibly URN-qualified,
/// case-insensitive attribute paths) and the schema's `returned` rules to a stored
/// resource. Unknown names in the lists are ignored.
pub fn project(
    schema: &ResourceSchema,
    doc: &Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Value> {
    let obj = doc
        .as_object()
        .ok_or_else(|| ScimError::new(500, None, "stored resource is not an object"))?;
    let inc = parse_paths(schema, attributes);
    let exc = parse_paths(schema, excluded);
    let (inc, exc) = (inc.as_deref(), exc.as_deref());
    let mut out = Map::new();
    for (key, value) in obj {
        if key == "schemas" || key == "id" {
            out.insert(key.clone(), value.clone());
        } else if let Some(i) = ext_index(schema, key) {
            let ext = &schema.extensions[i].0;
            if let Value::Object(inner) = value {
                let projected = project_attrs(&ext.id, &ext.attributes, inner, inc, exc);
                if !projected.is_empty() {
                    out.insert(key.clone(), Value::Object(projected));
                }
            }
        } else {
            let single = std::iter::once((key.clone(), value.clone())).collect();
            let core = &schema.core;
            out.extend(project_attrs(&core.id, &core.attributes, &single, inc, exc));
        }
    }
    Ok(Value::Object(out))
}

fn project_attrs(
    urn: &str,
    defs: &[AttrDef],
    map: &Map<String, Value>,
    inc: Option<&[Sel<'_>]>,
    exc: Option<&[Sel<'_>]>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let Some(def) = find_def(defs, key) else {
            if inc.is_none() {
                out.insert(key.clone(), value.clone());
            }
            continue;
        };
        let (inc_whole, inc_sub) = inc.map_or((false, false), |s| listed(s, urn, &def.name));
        let (exc_whole, _) = exc.map_or((false, false), |s| listed(s, urn, &def.name));
        let keep = match def.returned {
            Returned::Always => true,
            Returned::Never => false,
            Returned::Request => inc_whole || inc_sub,
            Returned::Default => inc.is_none_or(|_| inc_whole || inc_sub) && !exc_whole,
        };
        if !keep {
            continue;
        }
        if def.ty != AttrType::Complex {
            out.insert(def.name.clone(), value.clone());
            continue;
        }
        let all_subs = inc.is_none() || inc_whole || !inc_sub;
        let project_one = |v: &Value| -> Option<Value> {
            let Value::Object(o) = v else {
                return Some(v.clone());
            };
            let mut sub_out = Map::new();
            for (k, sv) in o {
                let Some(sd) = def.sub(k) else { continue };
                let req = inc.is_some_and(|s| sub_listed(s, urn, &def.name, &sd.name));
                let excl = exc.is_some_and(|s| sub_listed(s, urn, &def.name, &sd.name));
                let keep = match sd.returned {
                    Returned::Always => true,
                    Returned::Never => false,
                    Returned::Request => req,
                    Returned::Default => (all_subs || req) && !excl,
                };
                if keep {
                    sub_out.insert(sd.name.clone(), sv.clone());
                }
            }
            (!sub_out.is_empty()).then_some(Value::Object(sub_out))
        };
        let projected = match value {
            Value::Array(items) => {
                let items: Vec<Value> = items.iter().filter_map(project_one).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            other => project_one(other),
        };
        if let Some(v) = projected {
            out.insert(def.name.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    /// RFC 7643 §8.2, full User representation (plus an enterprise attribute).
    fn rfc_full_user() -> Value {
        json!({
          "schemas": [USER_URN], "id": "2819c223-7f76-453a-919d-413861904646",
          "externalId": "701984", "userName": "bjensen@example.com",
          "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen",
            "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.",
            "honorificSuffix": "III"},
          "displayName": "Babs Jensen", "nickName": "Babs",
          "profileUrl": "https://login.example.com/bjensen",
          "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}],
          "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood",
            "region": "CA", "postalCode": "91608", "country": "USA",
            "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"}],
          "phoneNumbers": [{"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}],
          "ims": [{"value": "someaimhandle", "type": "aim"}],
          "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F",
            "type": "photo"}],
          "userType": "Employee", "title": "Tour Guide", "preferredLanguage": "en-US",
          "locale": "en-US", "timezone": "America/Los_Angeles", "active": true,
          "password": "t1meMa$heen",
          "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
            "display": "Tour Guides"}],
          "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjEL"}],
          "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"a330bc54f0671c9\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}
        })
    }

    fn entra_create() -> Value {
        json!({"schemas":[USER_URN, ENTERPRISE_URN],
          "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
          "userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1","active":true,
          "emails":[{"primary":true,"type":"work",
            "value":"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
          "meta":{"resourceType":"User"},
          "name":{"formatted":"givenName familyName","familyName":"familyName",
            "givenName":"givenName"},"roles":[]})
    }

    fn okta_create() -> Value {
        json!({"schemas":[USER_URN],"userName":"test.user@okta.local",
          "name":{"givenName":"Test","familyName":"User"},
          "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
          "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
          "groups":[],"password":"1mz050nq","active":true})
    }

    fn create(input: Value) -> ScimResult<Value> {
        validate(user(), &input, Mode::Create, None)
    }

    fn err_type(r: ScimResult<Value>) -> &'static str {
        match r {
            Ok(v) => panic!("expected an error, got {v}"),
            Err(e) => e.scim_type.map_or("none", |t| t.as_str()),
        }
    }

    #[test]
    fn documents_load() {
        let l = load().expect("schema files parse");
        assert_eq!((l.schema_docs.len(), l.resource_types.len()), (3, 2));
        let (u, g) = (user(), group());
        assert_eq!((u.name.as_str(), u.core.id.as_str()), ("User", USER_URN));
        let ext = &u.extensions;
        assert_eq!(
            (ext.len(), ext[0].0.id.as_str(), ext[0].1),
            (1, ENTERPRISE_URN, false)
        );
        let def = |s: &'static ResourceSchema, n: &str| s.lookup(None, n).expect(n).def;
        let un = def(u, "USERNAME");
        assert!(un.required && !un.case_exact && un.name == "userName");
        assert_eq!(un.uniqueness, super::super::attrs::Uniqueness::Server);
        let pw = def(u, "password");
        assert_eq!(
            (pw.mutability, pw.returned),
            (Mutability::WriteOnly, Returned::Never)
        );
        assert_eq!(def(u, "groups").mutability, Mutability::ReadOnly);
        assert_eq!(def(u, "id").returned, Returned::Always);
        let dn = def(u, "manager").sub("displayname").expect("displayName");
        assert_eq!(dn.mutability, Mutability::ReadOnly);
        assert!(def(g, "displayName").required && g.extensions.is_empty());
        let members = def(g, "members");
        assert_eq!(
            members.sub("value").expect("v").mutability,
            Mutability::Immutable
        );
        assert_eq!(
            members.sub("type").expect("t").canonical_values,
            ["User", "Group"]
        );
        let names = "name emails phoneNumbers ims photos addresses entitlements roles \
            x509Certificates profileUrl active externalId meta";
        for attr in names.split_whitespace() {
            assert!(u.lookup(Some(USER_URN), attr).is_some(), "{attr}");
        }
    }

    #[test]
    fn discovery_documents() {
        let base = "http://acme.localhost:8080/scim/v2";
        let spc = service_provider_config(base);
        assert_eq!(
            spc["meta"]["location"],
            format!("{base}/ServiceProviderConfig")
        );
        assert_eq!(spc["meta"]["resourceType"], "ServiceProviderConfig");
        assert_eq!(spc["bulk"]["maxOperations"], 1000);
        assert_eq!(spc["bulk"]["maxPayloadSize"], 1048576);
        assert_eq!(spc["filter"]["maxResults"], 1000);
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        let rts = resource_types(base);
        assert_eq!(rts.len(), 2);
        assert_eq!(
            rts[0]["meta"]["location"],
            format!("{base}/ResourceTypes/User")
        );
        assert_eq!(rts[1]["endpoint"], "/Groups");
        let rt = resource_type_by_id(base, "user").expect("User");
        assert_eq!(rt["schemaExtensions"][0]["schema"], ENTERPRISE_URN);
        assert!(resource_type_by_id(base, "Device").is_none());
        let all = schemas(base);
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|s| s["meta"]["resourceType"] == "Schema"));
        let s = schema_by_id(base, ENTERPRISE_URN).expect("enterprise");
        assert_eq!(
            s["meta"]["location"],
            format!("{base}/Schemas/{ENTERPRISE_URN}")
        );
        assert!(schema_by_id(base, "urn:nope").is_none());
        for text in [
            USER_JSON,
            ENTERPRISE_JSON,
            GROUP_JSON,
            RESOURCE_TYPES_JSON,
            SPC_JSON,
        ] {
            assert!(
                !text.contains("\"location\""),
                "files must not carry meta.location"
            );
        }
    }

    #[test]
    fn rfc_full_user_normalizes() {
        let mut input = rfc_full_user();
        input[format!("{ENTERPRISE_URN}:department")] = json!("Tour Operations");
        let out = create(input).expect("valid");
        assert_eq!(out["schemas"], json!([USER_URN, ENTERPRISE_URN]));
        assert_eq!(
            out[ENTERPRISE_URN],
            json!({"department": "Tour Operations"})
        );
        for gone in ["id", "meta", "password", "groups"] {
            assert!(out.get(gone).is_none(), "{gone}");
        }
        assert_eq!(out["externalId"], "701984");
        assert_eq!(out["name"]["honorificSuffix"], "III");
        assert_eq!(out["addresses"][0]["primary"], true);
        assert_eq!(
            out["emails"][1],
            json!({"value": "babs@jensen.org", "type": "home"})
        );
        assert_eq!(out["x509Certificates"].as_array().map(Vec::len), Some(1));
        // A Replace of the same body is accepted and idempotent.
        let again = validate(user(), &out, Mode::Replace, Some(&out)).expect("replace");
        assert_eq!(again, out);
    }

    #[test]
    fn entra_and_okta_requests() {
        let out = create(entra_create()).expect("entra");
        assert_eq!(out["schemas"], json!([USER_URN]));
        assert!(out.get("roles").is_none() && out.get("meta").is_none());
        assert_eq!(out["active"], true);
        assert_eq!(out["emails"][0]["primary"], true);
        assert_eq!(out["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
        let out = create(okta_create()).expect("okta");
        assert!(out.get("password").is_none() && out.get("groups").is_none());
        assert_eq!(out["externalId"], "00ujl29u0le5T6Aj10h7");
        assert_eq!(
            out["name"],
            json!({"givenName": "Test", "familyName": "User"})
        );
        assert_eq!(out["locale"], "en-US");
    }

    #[test]
    fn lenient_inputs_are_normalized() {
        let input = json!({"SCHEMAS": [USER_URN.to_uppercase()], "USERNAME": "bob",
            "Active": "False", "emails": {"value": "b@x.org", "primary": "True"},
            "vendorThing": 1, "nickName": null, "name": {"GIVENNAME": "Bob", "junk": 2},
            ENTERPRISE_URN: {"Department": "R&D", "bogus": 1, "manager": {"value": "m1",
                "displayName": "Boss"}},
            format!("{ENTERPRISE_URN}:costCenter"): "42", format!("{USER_URN}:title"): "Dr"});
        let out = create(input).expect("valid");
        assert_eq!(
            out,
            json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": "bob",
            "active": false, "emails": [{"value": "b@x.org", "primary": true}],
            "name": {"givenName": "Bob"}, "title": "Dr",
            ENTERPRISE_URN: {"department": "R&D", "costCenter": "42",
                "manager": {"value": "m1"}}})
        );
    }

    #[test]
    fn invalid_inputs_are_rejected() {
        let (syntax, value) = ("invalidSyntax", "invalidValue");
        assert_eq!(err_type(create(json!([1]))), syntax);
        assert_eq!(err_type(create(json!({"userName": "bob"}))), syntax);
        let cases = [
            ("schemas", json!(USER_URN), syntax),
            ("schemas", json!([ENTERPRISE_URN]), syntax),
            ("schemas", json!([USER_URN, GROUP_URN]), value),
            ("userName", json!(null), value),
            ("userName", json!("  "), value),
            ("userName", json!(5), value),
            ("userName", json!(["a"]), value),
            ("active", json!("yes"), value),
            ("name", json!("Bob"), value),
            ("emails", json!(["b@x.org"]), value),
            (ENTERPRISE_URN, json!("x"), value),
            (
                "emails",
                json!([{"value": "a", "primary": true}, {"primary": "true"}]),
                value,
            ),
            ("nickName", json!(false), value),
        ];
        for (key, v, expected) in cases {
            let mut body = json!({"schemas": [USER_URN], "userName": "bob"});
            body[key] = v;
            let e = create(body).expect_err(key);
            assert_eq!(e.scim_type.map(|t| t.as_str()), Some(expected), "{key}");
            assert!(
                key == ENTERPRISE_URN || e.detail.contains(key),
                "{}",
                e.detail
            );
        }
        let g = json!({"schemas": [GROUP_URN]});
        assert_eq!(err_type(validate(group(), &g, Mode::Create, None)), value);
    }

    #[test]
    fn group_and_scalar_types() {
        let input = json!({"schemas": [GROUP_URN], "DisplayName": "Ops", "id": "x",
            "members": [{"value": "u1", "TYPE": "User", "display": "Bob"}, {"value": "u2"}]});
        let out = validate(group(), &input, Mode::Create, None).expect("group");
        assert_eq!(
            out["members"][0],
            json!({"value": "u1", "type": "User", "display": "Bob"})
        );
        assert!(out.get("id").is_none());
        let def = |ty: &str| -> AttrDef {
            serde_json::from_value(json!({"name": "x", "type": ty})).expect("def")
        };
        let check = |ty: &str, v: Value| normalize_value(&def(ty), &v, "x", None).is_ok();
        assert!(check("integer", json!(3)) && !check("integer", json!(3.5)));
        assert!(check("decimal", json!(3.5)) && !check("decimal", json!("3.5")));
        assert!(check("dateTime", json!("2011-05-13T04:42:34Z")));
        assert!(check("dateTime", json!("2011-05-13T04:42:34.5+02:00")));
        assert!(!check("dateTime", json!("2011-05-13")) && !check("binary", json!(1)));
    }

    #[test]
    fn replace_keeps_immutable_values() {
        let doc: SchemaDoc = serde_json::from_value(json!({"id": "urn:x:Thing",
            "attributes": [{"name": "code", "type": "string", "mutability": "immutable"},
                {"name": "label", "type": "string"},
                {"name": "extra", "type": "string", "returned": "request"}]}))
        .expect("doc");
        let schema = ResourceSchema {
            name: "Thing".into(),
            core: doc,
            extensions: vec![],
        };
        let old = json!({"schemas": ["urn:x:Thing"], "id": "1", "code": "ABC", "label": "a"});
        let put = |body: Value| validate(&schema, &body, Mode::Replace, Some(&old));
        let same = put(json!({"schemas": ["urn:x:Thing"], "code": "abc", "label": "b"}));
        assert_eq!(same.expect("same")["label"], "b");
        let kept = put(json!({"schemas": ["urn:x:Thing"]})).expect("kept");
        assert_eq!(kept["code"], "ABC");
        let changed = put(json!({"schemas": ["urn:x:Thing"], "code": "XYZ"}));
        let e = changed.expect_err("immutable");
        assert_eq!((e.status, err_type(Err(e))), (400, "mutability"));
        let fresh = validate(
            &schema,
            &json!({"schemas": ["urn:x:Thing"], "code": "XYZ"}),
            Mode::Create,
            Some(&old),
        );
        assert!(fresh.is_ok());
        let doc = json!({"schemas": ["urn:x:Thing"], "id": "1", "label": "a", "extra": "e"});
        let p = project(&schema, &doc, None, None).expect("default");
        assert!(p.get("extra").is_none() && p["label"] == "a");
        let p = project(&schema, &doc, Some("EXTRA"), None).expect("requested");
        assert_eq!(
            p,
            json!({"schemas": ["urn:x:Thing"], "id": "1", "extra": "e"})
        );
    }

    fn stored() -> Value {
        let mut doc = create(rfc_full_user()).expect("valid");
        doc["id"] = json!("2819c223");
        doc["meta"] = json!({"resourceType": "User", "version": "W/\"1\""});
        doc["password"] = json!("leaked");
        doc[ENTERPRISE_URN] = json!({"department": "Tours", "manager": {"value": "m1",
            "displayName": "Boss"}});
        doc
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort_unstable();
        k
    }

    #[test]
    fn projection_attributes() {
        let (s, doc) = (user(), stored());
        let all = project(s, &doc, None, None).expect("all");
        assert!(all.get("password").is_none() && all.get("meta").is_some());
        assert_eq!(all[ENTERPRISE_URN]["manager"]["displayName"], "Boss");
        let p = project(
            s,
            &doc,
            Some("USERNAME, name.givenName,emails.value,nope"),
            None,
        );
        let p = p.expect("projection");
        assert_eq!(keys(&p), ["emails", "id", "name", "schemas", "userName"]);
        assert_eq!(p["name"], json!({"givenName": "Barbara"}));
        assert_eq!(p["emails"][1], json!({"value": "babs@jensen.org"}));
        let q = format!("{ENTERPRISE_URN}:manager.value,password,emails");
        let p = project(s, &doc, Some(&q), None).expect("projection");
        assert_eq!(keys(&p), ["emails", "id", "schemas", ENTERPRISE_URN]);
        assert_eq!(p[ENTERPRISE_URN], json!({"manager": {"value": "m1"}}));
        assert_eq!(p["emails"][0]["type"], "work");
        let p = project(s, &doc, Some(ENTERPRISE_URN), None).expect("whole extension");
        assert_eq!(p[ENTERPRISE_URN]["department"], "Tours");
        let p = project(s, &doc, Some("nope"), Some("bogus")).expect("unknown only");
        assert_eq!(keys(&p), ["id", "schemas"]);
        let p = project(s, &doc, Some("department"), None).expect("unqualified ext");
        assert_eq!(keys(&p), ["id", "schemas", ENTERPRISE_URN]);
    }

    #[test]
    fn projection_excluded() {
        let (s, doc) = (user(), stored());
        let ex = format!("emails,name.givenName,id,schemas,{ENTERPRISE_URN}:department,x.y");
        let p = project(s, &doc, None, Some(&ex)).expect("excluded");
        assert!(p.get("emails").is_none() && p.get("id").is_some() && p.get("schemas").is_some());
        assert!(p["name"].get("givenName").is_none() && p["name"]["familyName"] == "Jensen");
        assert_eq!(
            p[ENTERPRISE_URN],
            json!({"manager": {"value": "m1", "displayName": "Boss"}})
        );
        let ex = format!("{ENTERPRISE_URN}:department,{ENTERPRISE_URN}:manager,meta");
        let p = project(s, &doc, None, Some(&ex)).expect("excluded");
        assert!(p.get(ENTERPRISE_URN).is_none() && p.get("meta").is_none());
        let p = project(s, &doc, Some(""), Some(" ")).expect("empty lists");
        assert_eq!(p, project(s, &doc, None, None).expect("all"));
        assert!(project(s, &json!("x"), None, None).is_err());
        let g = json!({"schemas": [GROUP_URN], "id": "g1", "displayName": "Ops",
            "members": [{"value": "u1", "display": "Bob"}]});
        let p = project(group(), &g, Some("members.value"), None).expect("group");
        assert_eq!(
            p,
            json!({"schemas": [GROUP_URN], "id": "g1", "members": [{"value": "u1"}]})
        );
    }
}
