//! Tests of `scim::schema`.

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
