//! Tests of `scim::filter`.

use super::super::attrs::SchemaDoc;
use super::super::error::ScimType;
use super::*;
use proptest::prelude::*;

pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn doc(v: Value) -> SchemaDoc {
    serde_json::from_value(v).unwrap()
}

fn multi_complex(name: &str, extra: Value) -> Value {
    let mut subs = vec![
        json!({"name": "value", "type": "string"}),
        json!({"name": "display", "type": "string"}),
        json!({"name": "type", "type": "string"}),
        json!({"name": "primary", "type": "boolean"}),
    ];
    if let Value::Array(a) = extra {
        subs.extend(a);
    }
    json!({"name": name, "type": "complex", "multiValued": true, "subAttributes": subs})
}

/// A small User schema (RFC 7643 §8.7.1 subset) with the enterprise extension.
pub(crate) fn user_schema() -> ResourceSchema {
    let core = doc(json!({"id": USER, "name": "User", "attributes": [
        {"name": "userName", "type": "string", "required": true, "uniqueness": "server"},
        {"name": "name", "type": "complex", "subAttributes": [
            {"name": "formatted", "type": "string"},
            {"name": "familyName", "type": "string"},
            {"name": "givenName", "type": "string"}]},
        {"name": "displayName", "type": "string"},
        {"name": "nickName", "type": "string"},
        {"name": "title", "type": "string"},
        {"name": "userType", "type": "string"},
        {"name": "active", "type": "boolean"},
        {"name": "loginCount", "type": "integer"},
        {"name": "score", "type": "decimal"},
        {"name": "birthday", "type": "dateTime"},
        {"name": "photoBlob", "type": "binary"},
        {"name": "password", "type": "string", "mutability": "writeOnly", "returned": "never"},
        multi_complex("emails", json!([])),
        multi_complex("phoneNumbers", json!([])),
        multi_complex("ims", json!([])),
        {"name": "groups", "type": "complex", "multiValued": true, "mutability": "readOnly",
         "subAttributes": [
            {"name": "value", "type": "string", "mutability": "readOnly"},
            {"name": "$ref", "type": "reference", "mutability": "readOnly"},
            {"name": "display", "type": "string", "mutability": "readOnly"}]},
        {"name": "nicknames", "type": "string", "multiValued": true}
    ]}));
    let ent = doc(json!({"id": ENT, "name": "EnterpriseUser", "attributes": [
        {"name": "employeeNumber", "type": "string"},
        {"name": "department", "type": "string"},
        {"name": "manager", "type": "complex", "subAttributes": [
            {"name": "value", "type": "string"},
            {"name": "$ref", "type": "reference"},
            {"name": "displayName", "type": "string", "mutability": "readOnly"}]}
    ]}));
    ResourceSchema {
        name: "User".into(),
        core,
        extensions: vec![(ent, false)],
    }
}

pub(crate) fn group_schema() -> ResourceSchema {
    let core = doc(
        json!({"id": "urn:ietf:params:scim:schemas:core:2.0:Group", "attributes": [
            {"name": "displayName", "type": "string", "required": true},
            {"name": "members", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string", "mutability": "immutable", "caseExact": true},
                {"name": "$ref", "type": "reference", "mutability": "immutable"},
                {"name": "type", "type": "string", "mutability": "immutable"},
                {"name": "display", "type": "string"}]}
        ]}),
    );
    ResourceSchema {
        name: "Group".into(),
        core,
        extensions: vec![],
    }
}

pub(crate) fn bjensen() -> Value {
    json!({
        "schemas": [USER, ENT],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen01",
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"a330bc54f0671c9\""},
        "UserName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "loginCount": 12,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        ENT: {"employeeNumber": "701984", "department": "Tour Operations",
              "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}}
    })
}

fn m(f: &str) -> bool {
    matches(&user_schema(), &parse_filter(f).unwrap(), &bjensen()).unwrap()
}

fn err(f: &str) -> ScimError {
    parse_filter(f)
        .and_then(|p| matches(&user_schema(), &p, &bjensen()))
        .unwrap_err()
}

fn ap(urn: Option<&str>, attr: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: urn.map(Into::into),
        attr: attr.into(),
        sub: sub.map(Into::into),
    }
}

#[test]
fn common_attrs_parse() {
    assert_eq!(common_attrs().len(), 4);
}

#[test]
fn attr_paths() {
    assert_eq!(
        parse_attr_path("userName").ok(),
        Some(ap(None, "userName", None))
    );
    assert_eq!(
        parse_attr_path("name.givenName").ok(),
        Some(ap(None, "name", Some("givenName")))
    );
    assert_eq!(
        parse_attr_path(&format!("{USER}:userName")).ok(),
        Some(ap(Some(USER), "userName", None))
    );
    assert_eq!(
        parse_attr_path(&format!("{ENT}:manager.value")).ok(),
        Some(ap(Some(ENT), "manager", Some("value")))
    );
    assert_eq!(
        parse_attr_path("members.$ref").ok(),
        Some(ap(None, "members", Some("$ref")))
    );
    for bad in ["", "1abc", "a.b.c", "a..b", "urn:", "a b", ".x", "a.", "$"] {
        assert_eq!(parse_attr_path(bad).ok(), None, "{bad}");
    }
}

#[test]
fn parse_structure() {
    let f = parse_filter("a eq 1 or b eq 2 and not (c pr)").unwrap();
    let Filter::Or(l, r) = f else { panic!() };
    assert!(matches!(
        *l,
        Filter::Compare {
            op: CompareOp::Eq,
            ..
        }
    ));
    let Filter::And(_, n) = *r else { panic!() };
    assert!(matches!(*n, Filter::Not(_)));
    let f = parse_filter(r#"userName Eq "a\"b\u00e9""#).unwrap();
    assert_eq!(
        f,
        Filter::Compare {
            path: ap(None, "userName", None),
            op: CompareOp::Eq,
            value: CompValue::Str("a\"bé".into())
        }
    );
    assert!(matches!(
        parse_filter("active EQ TRUE").unwrap(),
        Filter::Compare {
            value: CompValue::Bool(true),
            ..
        }
    ));
    assert!(matches!(
        parse_filter("x eq Null").unwrap(),
        Filter::Compare {
            value: CompValue::Null,
            ..
        }
    ));
    assert!(matches!(
        parse_filter("x gt -1.5e3").unwrap(),
        Filter::Compare {
            value: CompValue::Num(_),
            ..
        }
    ));
    let f = parse_filter(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap();
    assert!(matches!(f, Filter::ValuePath { .. }));
}

#[test]
fn parse_errors() {
    for bad in [
        "",
        "userName",
        "userName eq",
        "userName xx \"a\"",
        "userName eq \"a",
        "userName eq abc",
        "(userName eq \"a\"",
        "userName eq \"a\")",
        "emails[type eq \"work\"",
        "emails[type[x eq 1]]",
        "emails[type eq \"w\"].value eq \"x\"",
        "a eq 1 and",
        "not a eq 1",
        "a eq 1 b eq 2",
        "userName eq \"\\x\"",
        "userName ! \"a\"",
    ] {
        let e = parse_filter(bad).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad}");
    }
    let deep = format!("{}a pr{}", "(".repeat(60), ")".repeat(60));
    assert!(parse_filter(&deep).is_err());
    let ok = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
    assert!(parse_filter(&ok).is_ok());
    let many = vec!["a pr"; 600].join(" and ");
    assert!(parse_filter(&many).is_err());
}

#[test]
fn patch_paths() {
    let p = parse_patch_path("members").unwrap();
    assert_eq!(
        (p.attr, p.filter, p.sub),
        (ap(None, "members", None), None, None)
    );
    let p = parse_patch_path(r#"members[value eq "2819c223"]"#).unwrap();
    assert!(p.filter.is_some() && p.sub.is_none());
    let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p.sub.as_deref(), Some("value"));
    let p = parse_patch_path("name.familyName").unwrap();
    assert_eq!(p.attr, ap(None, "name", Some("familyName")));
    let p = parse_patch_path(&format!("{ENT}:employeeNumber")).unwrap();
    assert_eq!(p.attr, ap(Some(ENT), "employeeNumber", None));
    let p = parse_patch_path(&format!("{ENT}:manager.value")).unwrap();
    assert_eq!(p.attr, ap(Some(ENT), "manager", Some("value")));
    let p = parse_patch_path(r#"emails[value eq "a]b"]"#).unwrap();
    assert!(p.filter.is_some());
    for bad in [
        "",
        "members[",
        "members[value eq \"x\"",
        "members[value eq \"x\"]x",
        "members[value eq \"x\"].a.b",
        "name.givenName[value eq 1]",
        "a b",
        "members[value eq \"x\"] extra",
    ] {
        let e = parse_patch_path(bad).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
    }
}

#[test]
fn datetimes() {
    assert_eq!(
        normalize_datetime("2011-05-13T04:42:34Z").unwrap(),
        "2011-05-13T04:42:34Z"
    );
    assert_eq!(
        normalize_datetime("2011-05-13T06:42:34.120+02:00").unwrap(),
        "2011-05-13T04:42:34.12Z"
    );
    assert_eq!(
        normalize_datetime("2011-05-13T04:42:34").unwrap(),
        "2011-05-13T04:42:34Z"
    );
    assert_eq!(normalize_datetime("yesterday"), None);
}

#[test]
fn rfc_examples_in_memory() {
    assert!(m(r#"userName eq "bjensen@example.com""#));
    assert!(m(r#"USERNAME EQ "BJensen@Example.com""#));
    assert!(m(
        r#"name.familyName co "O'Malley" or name.familyName co "ensen""#
    ));
    assert!(m(r#"userName sw "J" or userName sw "b""#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#
    ));
    assert!(m("title pr"));
    assert!(!m("nickName pr"));
    assert!(!m(
        r#"meta.lastModified gt "2011-05-13T04:42:34.000-00:01""#
    ));
    assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(m(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
    assert!(m(r#"meta.lastModified lt "2011-05-13T05:42:34+00:00""#));
    assert!(!m(r#"meta.lastModified le "2011-05-13T04:42:33Z""#));
    assert!(m(r#"title pr and userType eq "Employee""#));
    assert!(m(r#"title pr or userType eq "Intern""#));
    assert!(m(
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
    ));
    assert!(m(
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
    ));
    assert!(!m(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
    ));
    assert!(m(r#"userType eq "Employee" and (emails.type eq "work")"#));
    assert!(m(
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#
    ));
    assert!(!m(r#"emails[type eq "home" and value co "@example.com"]"#));
    assert!(m(
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
    ));
    assert!(m(r#"emails[not (type eq "work")]"#));
    assert!(m(r#"emails[primary eq true]"#));
}

#[test]
fn semantics_in_memory() {
    assert!(m(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(!m(r#"externalId eq "bjensen01""#));
    assert!(m(r#"externalId eq "Bjensen01""#));
    assert!(m("active eq true") && !m("active eq false") && m("active ne false"));
    assert!(m(r#"active eq "True""#));
    assert!(m("loginCount gt 9") && m("loginCount eq 12.0") && !m("loginCount lt 12"));
    assert!(m(r#"loginCount ge "12""#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(m(r#"employeeNumber eq 701984"#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    ));
    assert!(m("manager pr") && m("name pr") && m("emails pr") && !m("phoneNumbers pr"));
    assert!(m("nickName eq null") && !m("title eq null") && m("title ne null"));
    assert!(m(r#"nickName ne "x""#));
    assert!(m(r#"emails ne "nobody@x""#) && !m(r#"emails ne "babs@jensen.org""#));
    assert!(m(r#"title gt "Tour""#) && m(r#"title lt "u""#));
    assert!(m(r#"emails ew "JENSEN.ORG""#));
    assert!(m(r#"meta.resourceType eq "User""#));
    assert!(!m(r#"meta.resourceType eq "user""#));
}

#[test]
fn semantic_errors() {
    for f in [
        r#"nosuch eq "x""#,
        r#"name.nosuch eq "x""#,
        r#"name eq "x""#,
        "active gt true",
        "active co \"t\"",
        "loginCount co 1",
        "loginCount eq \"abc\"",
        r#"photoBlob gt "x""#,
        r#"title gt null"#,
        r#"birthday eq "not a date""#,
        r#"userName eq true"#,
        r#"urn:x:y:userName eq "a""#,
        r#"title[value eq "x"]"#,
        r#"emails[nosuch eq "x"]"#,
        r#"emails[name.givenName eq "x"]"#,
    ] {
        assert_eq!(err(f).scim_type, Some(ScimType::InvalidFilter), "{f}");
    }
}

#[test]
fn element_matching() {
    let s = user_schema();
    let emails = s.lookup(None, "emails").unwrap().def;
    let f = parse_filter(r#"type eq "WORK" and primary eq true"#).unwrap();
    assert!(matches_element(&s, emails, &f, &json!({"type": "work", "primary": true})).unwrap());
    assert!(!matches_element(&s, emails, &f, &json!({"type": "home"})).unwrap());
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("userName".to_string()),
        Just("emails".to_string()),
        Just("name.givenName".to_string()),
        Just("urn:ietf:params:scim:schemas:core:2.0:User:userName".to_string()),
        Just("eq".to_string()),
        Just("pr".to_string()),
        Just("gt".to_string()),
        Just("and".to_string()),
        Just("or".to_string()),
        Just("not".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(".value".to_string()),
        Just("\"x\\\"y\"".to_string()),
        Just("\"\\u12\"".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("12.5".to_string()),
        Just("\"".to_string()),
        Just("é".to_string()),
    ]
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary(s in ".{0,80}") {
        let schema = user_schema();
        if let Ok(f) = parse_filter(&s) {
            let _ = matches(&schema, &f, &bjensen());
        }
        let _ = parse_patch_path(&s);
    }

    #[test]
    fn never_panics_on_tokens(toks in proptest::collection::vec(token(), 0..30), sep in prop_oneof![Just(" "), Just("")]) {
        let s = toks.join(sep);
        let schema = user_schema();
        if let Ok(f) = parse_filter(&s) {
            let _ = matches(&schema, &f, &bjensen());
        }
        let _ = parse_patch_path(&s);
    }
}
