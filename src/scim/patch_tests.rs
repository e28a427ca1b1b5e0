//! Tests of `scim::patch`.

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
    assert!(user_patch(
        &mut u,
        json!([{"op": "add", "path": "name", "value": {"formatted": null, "givenName": "Barb"}}])
    )
    .unwrap());
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
    assert!(user_patch(
        &mut u,
        json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "b@home.org"}])
    )
    .unwrap());
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
