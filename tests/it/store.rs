//! The store and core services on the real backend: e-mail scoping, deletion that leaves
//! nothing behind, quarantine, the audit chain.

use crate::support::{test_app, TestApp};
use tenantry::authz::{Grant, NetworkAccess, OrgAccess, Target};
use tenantry::core::admins::AdminSpec;
use tenantry::core::audit::{self, Actor};
use tenantry::error::Error;
use tenantry::store::Backend;

fn admin(email: &str, org: Option<OrgAccess>, grants: Vec<Grant>) -> AdminSpec {
    AdminSpec::new(email, None, org, grants).expect("valid admin")
}

#[tokio::test]
async fn the_same_email_lives_in_two_tenants_but_once_per_tenant() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    let a = app
        .core
        .add_admin(
            "globex-acme",
            admin("pat@example.com", Some(OrgAccess::Full), vec![]),
            &Actor::cli(),
        )
        .await
        .expect("first tenant");
    let b = app
        .core
        .add_admin(
            "initech-acme",
            admin("pat@example.com", Some(OrgAccess::ReadOnly), vec![]),
            &Actor::cli(),
        )
        .await
        .expect("second tenant");
    assert_ne!(a.user_id, b.user_id);
    // The MSP's own admin's e-mail is free in a customer too.
    app.core
        .add_admin(
            "globex-acme",
            admin(
                "boss@acme.example",
                Some(OrgAccess::None),
                vec![Grant {
                    target: Target::Tag("x".into()),
                    access: NetworkAccess::MonitorOnly,
                }],
            ),
            &Actor::cli(),
        )
        .await
        .expect("msp admin's e-mail in a customer");

    let again = app
        .core
        .add_admin(
            "globex-acme",
            admin("PAT@Example.com", Some(OrgAccess::Full), vec![]),
            &Actor::cli(),
        )
        .await;
    match again {
        Err(Error::Conflict { code, message }) => {
            assert_eq!(code, "email_in_use");
            assert!(message.contains("existing account"), "{message}");
        }
        other => panic!("expected email_in_use, got {other:?}"),
    }
}

#[tokio::test]
async fn admin_grants_are_checked_against_the_tenant() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    app.customer("globex", "acme", "Globex").await;
    app.customer("initech", "acme", "Initech").await;
    let other_net = app
        .core
        .create_network("initech-acme", "Elsewhere", &[], &Actor::cli())
        .await
        .expect("network");
    let net = app
        .core
        .create_network("globex-acme", "HQ", &["hq".into()], &Actor::cli())
        .await
        .expect("network");
    let grant = |target: Target, access: NetworkAccess| Grant { target, access };

    let foreign = app
        .core
        .add_admin(
            "globex-acme",
            admin(
                "a@x.example",
                None,
                vec![grant(
                    Target::Network(other_net.id.clone()),
                    NetworkAccess::Full,
                )],
            ),
            &Actor::cli(),
        )
        .await;
    assert!(
        matches!(
            foreign,
            Err(Error::Invalid {
                code: "unknown_network",
                ..
            })
        ),
        "{foreign:?}"
    );

    let port_missing = app
        .core
        .add_admin(
            "globex-acme",
            admin(
                "a@x.example",
                None,
                vec![grant(
                    Target::Network(net.id.clone()),
                    NetworkAccess::Port("lobby".into()),
                )],
            ),
            &Actor::cli(),
        )
        .await;
    assert!(
        matches!(
            port_missing,
            Err(Error::Invalid {
                code: "unknown_port_privilege",
                ..
            })
        ),
        "{port_missing:?}"
    );

    app.core
        .add_port_privilege("globex-acme", &net.id, "lobby", true, &Actor::cli())
        .await
        .expect("port privilege");
    let port_on_tag = app
        .core
        .add_admin(
            "globex-acme",
            admin(
                "a@x.example",
                None,
                vec![grant(
                    Target::Tag("hq".into()),
                    NetworkAccess::Port("lobby".into()),
                )],
            ),
            &Actor::cli(),
        )
        .await;
    assert!(
        matches!(
            port_on_tag,
            Err(Error::Invalid {
                code: "invalid_grant",
                ..
            })
        ),
        "{port_on_tag:?}"
    );

    let ok = app
        .core
        .add_admin(
            "globex-acme",
            admin(
                "a@x.example",
                None,
                vec![grant(
                    Target::Network(net.id.clone()),
                    NetworkAccess::Port("lobby".into()),
                )],
            ),
            &Actor::cli(),
        )
        .await
        .expect("valid port grant");
    assert_eq!(ok.org_access, OrgAccess::None);
    assert_eq!(ok.grants[0].access, "port:lobby");
    assert!(
        AdminSpec::new("a@x.example", None, None, vec![]).is_err(),
        "no access at all"
    );
}

async fn tables(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let pool = app.core.store.pool();
    let names: Vec<(String,)> = match app.core.store.backend() {
        Backend::Sqlite => sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .expect("tables"),
        Backend::Postgres => sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .expect("tables"),
    };
    let mut out = Vec::new();
    for (table,) in names {
        let cols: Vec<(String,)> = match app.core.store.backend() {
            Backend::Sqlite => sqlx::query_as("SELECT name FROM pragma_table_info($1)")
                .bind(&table)
                .fetch_all(pool)
                .await
                .expect("columns"),
            Backend::Postgres => sqlx::query_as(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
            )
            .bind(&table)
            .fetch_all(pool)
            .await
            .expect("columns"),
        };
        out.push((table, cols.into_iter().map(|c| c.0).collect()));
    }
    out
}

/// Rows in any table with any column equal to `value`.
async fn rows_mentioning(app: &TestApp, value: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (table, cols) in tables(app).await {
        for col in cols {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE CAST({col} AS TEXT) = $1");
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(value)
                .fetch_one(app.core.store.pool())
                .await
                .expect("count");
            if n > 0 {
                found.push(format!("{table}.{col}: {n}"));
            }
        }
    }
    found
}

/// Rows of the later issues' tables (delegations, mappings, MSP identities and scopes),
/// written directly, so that the deletion test covers the whole schema.
async fn fill_model_tables(app: &TestApp, msp: &str, customer: &str, msp_user: &str) {
    let statements: Vec<(&str, Vec<&str>)> = vec![
        ("INSERT INTO msp_staff_roles (tenant_id, user_id, role, scope_all, created_at, updated_at) VALUES ($1, $2, 'observer', 0, 1, 1) ON CONFLICT DO NOTHING", vec![msp, msp_user]),
        ("UPDATE msp_staff_roles SET scope_all = 0 WHERE tenant_id = $1 AND user_id = $2", vec![msp, msp_user]),
        ("INSERT INTO msp_staff_scope (tenant_id, user_id, customer_id) VALUES ($1, $2, $3)", vec![msp, msp_user, customer]),
        ("INSERT INTO delegations (tenant_id, id, msp_tenant_id, msp_user_id, bundle, state, created_by, created_at) VALUES ($1, 'del_test', $2, $3, '{}', 'approved', 'cli', 1)", vec![customer, msp, msp_user]),
        ("INSERT INTO msp_identities (tenant_id, id, msp_tenant_id, msp_user_id, created_at) VALUES ($1, 'msp_test', $2, $3, 1)", vec![customer, msp, msp_user]),
        ("INSERT INTO role_mappings (tenant_id, id, name, bundle, created_at, updated_at) VALUES ($1, 'map_test', 'netadmins', '{\"org_access\":\"full\"}', 1, 1)", vec![customer]),
        ("INSERT INTO role_mapping_selectors (tenant_id, mapping_id, kind, value) VALUES ($1, 'map_test', 'group_name', 'Network Admins')", vec![customer]),
    ];
    for (sql, binds) in statements {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(b);
        }
        q.execute(app.core.store.pool()).await.expect(sql);
    }
}

const GLOBAL_TABLES: &[&str] = &[
    "_sqlx_migrations",
    "server_meta",
    "tenants",
    "quarantined_names",
    "server_audit",
];

#[tokio::test]
async fn deleting_a_customer_leaves_no_row_behind() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let globex = app.customer("globex", "acme", "Globex").await;
    let initech = app.customer("initech", "acme", "Initech").await;
    let gid = globex.tenant.id.clone();
    let actor = Actor::cli();
    for (tenant, net) in [("globex-acme", "HQ"), ("initech-acme", "HQ")] {
        let n = app
            .core
            .create_network(tenant, net, &["hq".into(), "east".into()], &actor)
            .await
            .expect("network");
        app.core
            .add_port_privilege(tenant, &n.id, "lobby", false, &actor)
            .await
            .expect("port");
        app.core
            .add_admin(
                tenant,
                admin(
                    "it@example.com",
                    Some(OrgAccess::ReadOnly),
                    vec![
                        Grant {
                            target: Target::Network(n.id.clone()),
                            access: NetworkAccess::Full,
                        },
                        Grant {
                            target: Target::Tag("east".into()),
                            access: NetworkAccess::Installer,
                        },
                    ],
                ),
                &actor,
            )
            .await
            .expect("admin");
    }
    let staff = acme.admin.expect("msp admin").user_id;
    fill_model_tables(&app, &acme.tenant.id, &gid, &staff).await;
    fill_model_tables(&app, &acme.tenant.id, &initech.tenant.id, &staff).await;

    // Every tenant-owned table is keyed by tenant id first.
    for (table, cols) in tables(&app).await {
        if !GLOBAL_TABLES.contains(&table.as_str()) {
            assert_eq!(
                cols.first().map(String::as_str),
                Some("tenant_id"),
                "{table}: {cols:?}"
            );
        }
    }
    let before = rows_mentioning(&app, &gid).await;
    assert!(
        before.len() >= 12,
        "the fixture should touch most tables: {before:?}"
    );

    let deleted = app
        .core
        .delete_tenant("globex-acme", false, &actor)
        .await
        .expect("delete");
    assert_eq!(deleted.deleted, vec!["globex-acme".to_string()]);

    let left = rows_mentioning(&app, &gid).await;
    assert!(left.is_empty(), "rows left behind: {left:?}");
    // Its sibling is untouched.
    let sibling = rows_mentioning(&app, &initech.tenant.id).await;
    assert_eq!(sibling.len(), before.len(), "{sibling:?} vs {before:?}");

    // The deletion is in the MSP's chain, and the chain still verifies.
    let mut conn = app.core.store.conn().await.expect("conn");
    let acme_id = tenantry::ids::TenantId(acme.tenant.id.clone());
    let entries = tenantry::store::audit::entries(&mut conn, &acme_id)
        .await
        .expect("entries");
    assert!(entries
        .iter()
        .any(|e| e.action == "customer.delete" && e.target == "tenant:globex-acme"));
    assert!(
        audit::verify(&mut conn, &acme_id)
            .await
            .expect("verify")
            .intact
    );
    drop(conn);

    // The name is quarantined, until purged.
    let again = app
        .core
        .create_customer(
            tenantry::core::tenants::NewTenant {
                name: "globex",
                display_name: None,
                admin_email: None,
            },
            "acme",
            &actor,
        )
        .await;
    assert!(
        matches!(
            again,
            Err(Error::Conflict {
                code: "name_quarantined",
                ..
            })
        ),
        "{again:?}"
    );
    app.clock
        .advance(tenantry::core::tenants::QUARANTINE_SECONDS + 1);
    app.customer("globex", "acme", "Globex again").await;
}

#[tokio::test]
async fn an_msp_with_customers_is_deleted_only_with_cascade() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let globex = app.customer("globex", "acme", "Globex").await;
    let other = app.msp("umbrella", "boss@umbrella.example").await;
    let refused = app.core.delete_tenant("acme", false, &Actor::cli()).await;
    assert!(
        matches!(
            refused,
            Err(Error::Conflict {
                code: "has_customers",
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(rows_mentioning(&app, &globex.tenant.id).await.len() > 1);

    let deleted = app
        .core
        .delete_tenant("acme", true, &Actor::cli())
        .await
        .expect("cascade");
    assert_eq!(
        deleted.deleted,
        vec!["globex-acme".to_string(), "acme".to_string()]
    );
    assert!(rows_mentioning(&app, &acme.tenant.id).await.is_empty());
    assert!(rows_mentioning(&app, &globex.tenant.id).await.is_empty());
    assert!(!rows_mentioning(&app, &other.tenant.id).await.is_empty());
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM server_audit WHERE action = 'tenant.delete'")
            .fetch_one(app.core.store.pool())
            .await
            .expect("server audit");
    assert_eq!(n, 2);
}

#[tokio::test]
async fn names_collide_and_reserved_words_are_refused() {
    let app = test_app().await;
    app.msp("acme", "boss@acme.example").await;
    let dup = app
        .core
        .create_msp(
            tenantry::core::tenants::NewTenant {
                name: "acme",
                display_name: None,
                admin_email: Some("x@y.example"),
            },
            &Actor::cli(),
        )
        .await;
    assert!(
        matches!(
            dup,
            Err(Error::Conflict {
                code: "name_taken",
                ..
            })
        ),
        "{dup:?}"
    );
    let standalone = app
        .core
        .create_standalone(
            tenantry::core::tenants::NewTenant {
                name: "acme",
                display_name: None,
                admin_email: Some("x@y.example"),
            },
            &Actor::cli(),
        )
        .await;
    assert!(
        matches!(
            standalone,
            Err(Error::Conflict {
                code: "name_taken",
                ..
            })
        ),
        "{standalone:?}"
    );
    for (customer, msp, code) in [
        ("www", "acme", "reserved_name"),
        ("globex", "portal", "reserved_name"),
        ("Globex", "acme", "invalid_name"),
        ("globex-", "acme", "invalid_name"),
    ] {
        let r = app
            .core
            .create_customer(
                tenantry::core::tenants::NewTenant {
                    name: customer,
                    display_name: None,
                    admin_email: None,
                },
                msp,
                &Actor::cli(),
            )
            .await;
        assert!(
            matches!(&r, Err(Error::Invalid { code: c, .. }) if *c == code),
            "{customer}-{msp}: {r:?}"
        );
    }
}

#[tokio::test]
async fn the_audit_chain_detects_tampering() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    app.core
        .create_network("acme", "NOC", &[], &Actor::cli())
        .await
        .expect("network");
    let id = tenantry::ids::TenantId(acme.tenant.id.clone());
    let mut conn = app.core.store.conn().await.expect("conn");
    let entries = tenantry::store::audit::entries(&mut conn, &id)
        .await
        .expect("entries");
    assert!(entries.len() >= 3);
    assert_eq!(entries[0].seq, 1);
    assert!(audit::verify(&mut conn, &id).await.expect("verify").intact);
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 2")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .expect("tamper");
    assert_eq!(
        audit::verify(&mut conn, &id)
            .await
            .expect("verify")
            .first_broken_seq,
        Some(2)
    );
}

/// Appends start from the head this process saw last; when the head moved without it (a
/// rolled-back append, or another process's), the next append falls back to the stored
/// head and the chain stays whole.
#[tokio::test]
async fn audit_appends_follow_the_stored_head_when_it_moved_elsewhere() {
    let app = test_app().await;
    let acme = app.msp("acme", "boss@acme.example").await;
    let id = tenantry::ids::TenantId(acme.tenant.id.clone());
    let change = |action: &'static str| audit::Change {
        action,
        target: "test".into(),
        before: None,
        after: None,
    };
    // An append whose transaction rolls back leaves the process's hint ahead of the store.
    let mut tx = app.core.store.begin().await.expect("tx");
    let ghost = audit::append(
        &app.core.keys,
        &mut tx,
        &id,
        &Actor::cli(),
        change("test.rolled_back"),
        1,
        None,
    )
    .await
    .expect("append");
    tx.rollback().await.expect("rollback");
    // The stored head did not move.
    let mut tx = app.core.store.begin().await.expect("tx");
    let head = tenantry::store::audit::advance_head(&mut tx, &id)
        .await
        .expect("head");
    assert_eq!(head.seq, ghost, "the rolled-back seq is free again");
    tx.rollback().await.expect("rollback");
    for action in ["test.one", "test.two"] {
        let mut tx = app.core.store.begin().await.expect("tx");
        audit::append(
            &app.core.keys,
            &mut tx,
            &id,
            &Actor::cli(),
            change(action),
            2,
            None,
        )
        .await
        .expect("append");
        tx.commit().await.expect("commit");
    }
    let mut conn = app.core.store.conn().await.expect("conn");
    let entries = tenantry::store::audit::entries(&mut conn, &id)
        .await
        .expect("entries");
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(entries[entries.len() - 2].seq, ghost);
    assert_eq!(entries[entries.len() - 2].action, "test.one");
    let v = audit::verify(&mut conn, &id).await.expect("verify");
    assert!(v.intact, "{v:?}");
}
