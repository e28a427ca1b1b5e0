//! Tests of `scim::sql`.

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
        (
            r#"emails.type eq "home" and emails.value co "example.com""#,
            &["u1", "u2", "u4"],
        ),
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
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "u1""#,
            &["u3"],
        ),
        (
            r#"employeeNumber eq "42" or department co "tour""#,
            &["u1", "u3"],
        ),
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
