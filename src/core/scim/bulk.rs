//! SCIM Bulk (RFC 7644 §3.7): operations run one by one (each its own transaction, as the
//! RFC allows), `bulkId:` references resolved to the ids created earlier in the request
//! (operations whose references are not yet known wait for a later pass), and
//! `failOnErrors` stops processing after that many errors.

use super::{Core, Kind};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema;
use crate::tenancy::Tenant;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Advertised in ServiceProviderConfig and enforced here and in the HTTP layer.
pub const MAX_OPERATIONS: usize = 1000;
pub const MAX_PAYLOAD: usize = 1_048_576;

struct Op {
    index: usize,
    method: String,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Option<Value>,
}

/// Replace every `bulkId:xyz` string in a JSON value; Err(id) names the first unknown one.
fn resolve(v: &Value, ids: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => match s.strip_prefix("bulkId:") {
            Some(b) => Value::String(ids.get(b).cloned().ok_or_else(|| b.to_string())?),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| resolve(x, ids))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, x) in o {
                out.insert(k.clone(), resolve(x, ids)?);
            }
            Value::Object(out)
        }
        _ => v.clone(),
    })
}

fn parse_ops(body: &Value) -> ScimResult<(Vec<Op>, Option<usize>)> {
    let schemas = body.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter()
            .any(|u| u.as_str() == Some(schema::BULK_REQUEST_URN))
    }) {
        return Err(ScimError::invalid_syntax(format!(
            "a bulk request lists {} in schemas",
            schema::BULK_REQUEST_URN
        )));
    }
    let fail_on_errors = match body.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ScimError::invalid_value("failOnErrors is a positive integer"))?
                as usize,
        ),
    };
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a bulk request has an Operations array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            413,
            Some(crate::scim::error::ScimType::TooMany),
            format!("at most {MAX_OPERATIONS} operations per bulk request"),
        ));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let s = |k: &str| op.get(k).and_then(Value::as_str).map(str::to_string);
        let method = s("method")
            .ok_or_else(|| ScimError::invalid_syntax(format!("operation {index} has no method")))?
            .to_ascii_uppercase();
        let path = s("path")
            .ok_or_else(|| ScimError::invalid_syntax(format!("operation {index} has no path")))?;
        out.push(Op {
            index,
            method,
            bulk_id: s("bulkId"),
            version: s("version"),
            path,
            data: op.get("data").cloned(),
        });
    }
    Ok((out, fail_on_errors))
}

/// `/Users` or `/Users/{id}` (also with the base URL before it).
fn split_path(path: &str) -> Option<(Kind, Option<String>)> {
    let p = path.trim();
    let p = p
        .find("/Users")
        .or_else(|| p.find("/Groups"))
        .map(|i| &p[i..])?;
    let mut parts = p.trim_start_matches('/').splitn(2, '/');
    let kind = match parts.next()? {
        "Users" => Kind::User,
        "Groups" => Kind::Group,
        _ => return None,
    };
    let id = parts.next().map(|s| s.trim_end_matches('/').to_string());
    match id {
        Some(i) if i.is_empty() || i.contains('/') => None,
        other => Some((kind, other)),
    }
}

impl Core {
    /// Run a bulk request; the response body (BulkResponse).
    pub async fn scim_bulk(
        &self,
        tenant: &Tenant,
        body: &Value,
        token_id: &str,
    ) -> ScimResult<Value> {
        let (ops, fail_on_errors) = parse_ops(body)?;
        let base = self.scim_base(tenant);
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut results: Vec<Option<Value>> = vec![None; ops.len()];
        let mut pending: Vec<&Op> = ops.iter().collect();
        let mut errors = 0usize;
        'passes: loop {
            let mut waiting = Vec::new();
            let before = pending.len();
            for op in pending {
                if fail_on_errors.is_some_and(|n| errors >= n) {
                    break 'passes;
                }
                let data = match op.data.as_ref().map(|d| resolve(d, &ids)).transpose() {
                    Ok(d) => d,
                    Err(_) => {
                        waiting.push(op);
                        continue;
                    }
                };
                // `/Users/bulkId:qwerty`: the last segment may name a bulkId.
                let path = match op.path.rsplit_once('/') {
                    Some((head, last)) if last.starts_with("bulkId:") => {
                        match resolve(&Value::String(last.to_string()), &ids) {
                            Ok(Value::String(id)) => format!("{head}/{id}"),
                            _ => {
                                waiting.push(op);
                                continue;
                            }
                        }
                    }
                    _ => op.path.clone(),
                };
                let outcome = self
                    .bulk_one(tenant, op, &path, data.as_ref(), token_id)
                    .await;
                let mut r = json!({"method": op.method});
                if let Some(b) = &op.bulk_id {
                    r["bulkId"] = json!(b);
                }
                match outcome {
                    Ok((status, resource)) => {
                        if let Some(res) = resource {
                            let id = res.doc["id"].as_str().unwrap_or("").to_string();
                            if let (Some(b), "POST") = (&op.bulk_id, op.method.as_str()) {
                                ids.insert(b.clone(), id.clone());
                            }
                            let kind = split_path(&path).map(|(k, _)| k).unwrap_or(Kind::User);
                            r["location"] = json!(format!("{base}/{}/{id}", kind.endpoint()));
                            r["version"] = json!(res.etag());
                        }
                        r["status"] = json!(status.to_string());
                    }
                    Err(e) => {
                        errors += 1;
                        r["status"] = json!(e.status.to_string());
                        r["response"] = e.body();
                    }
                }
                results[op.index] = Some(r);
            }
            if waiting.is_empty() || waiting.len() == before {
                // Whatever still waits names a bulkId that no operation created.
                for op in waiting {
                    if fail_on_errors.is_some_and(|n| errors >= n) {
                        break;
                    }
                    errors += 1;
                    let e = ScimError::new(
                        409,
                        Some(crate::scim::error::ScimType::InvalidValue),
                        "the operation refers to a bulkId that no operation created",
                    );
                    let mut r = json!({"method": op.method, "status": "409", "response": e.body()});
                    if let Some(b) = &op.bulk_id {
                        r["bulkId"] = json!(b);
                    }
                    results[op.index] = Some(r);
                }
                break;
            }
            pending = waiting;
        }
        Ok(json!({
            "schemas": [schema::BULK_RESPONSE_URN],
            "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
        }))
    }

    async fn bulk_one(
        &self,
        tenant: &Tenant,
        op: &Op,
        path: &str,
        data: Option<&Value>,
        token_id: &str,
    ) -> ScimResult<(u16, Option<super::Resource>)> {
        let (kind, id) = split_path(path)
            .ok_or_else(|| ScimError::invalid_path(format!("bad bulk path {path}")))?;
        let need_data =
            || data.ok_or_else(|| ScimError::invalid_syntax("the operation needs data"));
        let if_match = op.version.as_deref();
        match (op.method.as_str(), id) {
            ("POST", None) => {
                if op.bulk_id.is_none() {
                    return Err(ScimError::invalid_syntax("a bulk POST needs a bulkId"));
                }
                let r = self
                    .scim_create(tenant, kind, need_data()?, token_id)
                    .await?;
                Ok((201, Some(r)))
            }
            ("PUT", Some(id)) => {
                let r = self
                    .scim_replace(tenant, kind, &id, need_data()?, if_match, token_id)
                    .await?;
                Ok((200, Some(r)))
            }
            ("PATCH", Some(id)) => {
                let r = self
                    .scim_patch(tenant, kind, &id, need_data()?, if_match, token_id)
                    .await?;
                Ok((200, Some(r)))
            }
            ("DELETE", Some(id)) => {
                self.scim_delete(tenant, kind, &id, if_match, token_id)
                    .await?;
                Ok((204, None))
            }
            (m, _) => Err(ScimError::invalid_syntax(format!(
                "method {m} is not allowed on {path} in a bulk request"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_a_kind_and_maybe_an_id() {
        assert!(matches!(split_path("/Users"), Some((Kind::User, None))));
        assert!(
            matches!(split_path("/Groups/grp_1"), Some((Kind::Group, Some(ref i))) if i == "grp_1")
        );
        assert!(matches!(
            split_path("http://x.localhost/scim/v2/Users/usr_1"),
            Some((Kind::User, Some(ref i))) if i == "usr_1"
        ));
        assert!(split_path("/Users/a/b").is_none());
        assert!(split_path("/Other").is_none());
    }

    #[test]
    fn bulk_ids_resolve_everywhere_or_name_the_missing_one() {
        let ids = HashMap::from([("q".to_string(), "usr_1".to_string())]);
        let v = serde_json::json!({"members": [{"value": "bulkId:q"}], "x": "bulkId"});
        assert_eq!(
            resolve(&v, &ids).expect("resolved"),
            serde_json::json!({"members": [{"value": "usr_1"}], "x": "bulkId"})
        );
        let v = serde_json::json!(["bulkId:nope"]);
        assert_eq!(resolve(&v, &ids), Err("nope".to_string()));
    }
}
