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
#[path = "schema_tests.rs"]
mod tests;
