//! The CLI's JSON output and its errors, running the real binary.

use crate::support::TestEnv;
use serde_json::Value;

struct Run {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

fn run(env: &TestEnv, args: &[&str]) -> Run {
    let out = env.command().args(args).output().expect("run tenantry");
    let stdout = String::from_utf8_lossy(&out.stdout);
    Run {
        code: out.status.code(),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(env: &TestEnv, args: &[&str]) -> Value {
    let r = run(env, args);
    assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
    r.json
}

fn refused(env: &TestEnv, args: &[&str], code: &str) -> String {
    let r = run(env, args);
    assert_eq!(r.code, Some(2), "{args:?} should fail: {}", r.stderr);
    assert!(
        r.stderr.contains(code),
        "{args:?}: expected {code} in {}",
        r.stderr
    );
    assert_eq!(r.json, Value::Null, "nothing on stdout for a failure");
    r.stderr
}

#[tokio::test]
async fn tenants_networks_and_admins_from_the_command_line() {
    let env = TestEnv::new().await;
    let msp = ok(
        &env,
        &[
            "msp",
            "create",
            "acme",
            "--admin-email",
            "boss@acme.example",
            "--display-name",
            "Acme MSP",
        ],
    );
    assert_eq!(msp["tenant"]["name"], "acme");
    assert_eq!(msp["tenant"]["kind"], "msp");
    assert_eq!(msp["tenant"]["issuer"], "http://acme.localhost:8080");
    assert!(msp["tenant"]["id"]
        .as_str()
        .unwrap_or("")
        .starts_with("ten_"));
    assert_eq!(msp["admin"]["msp_role"], "super-user");
    let link = msp["admin"]["enrolment_url"].as_str().unwrap_or("");
    assert!(
        link.starts_with("http://acme.localhost:8080/enroll/tnt_enr_"),
        "{link}"
    );

    let c = ok(
        &env,
        &[
            "tenant",
            "create",
            "globex",
            "--msp",
            "acme",
            "--display-name",
            "Globex Corporation",
            "--admin-email",
            "it@globex.example",
        ],
    );
    assert_eq!(c["tenant"]["name"], "globex-acme");
    assert_eq!(c["tenant"]["msp"], "acme");
    assert_eq!(c["admin"]["org_access"], "full");
    let s = ok(
        &env,
        &[
            "tenant",
            "create",
            "hooli",
            "--admin-email",
            "it@hooli.example",
        ],
    );
    assert_eq!(s["tenant"]["kind"], "standalone");

    let list = ok(&env, &["tenant", "list", "--msp", "acme"]);
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, vec!["globex-acme"]);
    assert_eq!(
        ok(&env, &["tenant", "list"]).as_array().map(Vec::len),
        Some(3)
    );

    let net = ok(
        &env,
        &[
            "network",
            "create",
            "--tenant",
            "globex-acme",
            "Springfield",
            "--tag",
            "branch",
            "--tag",
            "east",
        ],
    );
    let net_id = net["id"].as_str().expect("id").to_string();
    assert!(net_id.starts_with("net_"));
    assert_eq!(net["tags"], serde_json::json!(["branch", "east"]));
    let nets = ok(&env, &["network", "list", "--tenant", "globex-acme"]);
    assert_eq!(nets[0]["id"], net_id.as_str());

    let grant = format!("network:{net_id}=full");
    let a = ok(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "ops@globex.example",
            "--name",
            "Ops",
            "--org-access",
            "none",
            "--grant",
            &grant,
            "--grant",
            "tag:branch=monitor-only",
        ],
    );
    assert_eq!(a["org_access"], "none");
    assert_eq!(a["grants"].as_array().map(Vec::len), Some(2));
    assert!(a["enrolment_url"]
        .as_str()
        .unwrap_or("")
        .starts_with("http://globex-acme.localhost:8080/enroll/tnt_enr_"));

    let admins = ok(&env, &["admin", "list", "--tenant", "globex-acme"]);
    assert_eq!(admins.as_array().map(Vec::len), Some(2));

    let deleted = ok(&env, &["tenant", "delete", "globex-acme"]);
    assert_eq!(deleted["deleted"], serde_json::json!(["globex-acme"]));
}

#[tokio::test]
async fn bad_input_gets_a_readable_error_and_changes_nothing() {
    let env = TestEnv::new().await;
    ok(
        &env,
        &[
            "msp",
            "create",
            "acme",
            "--admin-email",
            "boss@acme.example",
        ],
    );
    ok(&env, &["tenant", "create", "globex", "--msp", "acme"]);

    // Bad names.
    refused(
        &env,
        &["msp", "create", "Acme2", "--admin-email", "a@b.example"],
        "invalid_name",
    );
    refused(
        &env,
        &["msp", "create", "ac-me", "--admin-email", "a@b.example"],
        "invalid_name",
    );
    refused(
        &env,
        &["msp", "create", "admin", "--admin-email", "a@b.example"],
        "reserved_name",
    );
    refused(
        &env,
        &["tenant", "create", "--msp", "acme", "--", "-globex"],
        "invalid_name",
    );
    refused(
        &env,
        &["tenant", "create", &"x".repeat(60), "--msp", "acme"],
        "invalid_name",
    );
    refused(&env, &["tenant", "create", "solo"], "admin_email_required");
    // Duplicates.
    let dup = refused(
        &env,
        &["tenant", "create", "globex", "--msp", "acme"],
        "name_taken",
    );
    assert!(dup.contains("globex-acme"), "{dup}");
    refused(
        &env,
        &["msp", "create", "acme", "--admin-email", "x@y.example"],
        "name_taken",
    );
    // Unknown MSP.
    refused(
        &env,
        &["tenant", "create", "initech", "--msp", "nosuch"],
        "unknown_msp",
    );
    refused(
        &env,
        &["tenant", "create", "initech", "--msp", "globex-acme"],
        "invalid_name",
    );
    refused(&env, &["tenant", "list", "--msp", "nosuch"], "unknown_msp");
    // Admins.
    refused(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "a@b.example",
        ],
        "no_access",
    );
    refused(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "not-an-email",
            "--org-access",
            "full",
        ],
        "invalid_email",
    );
    refused(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "a@b.example",
            "--org-access",
            "owner",
        ],
        "invalid_org_access",
    );
    refused(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "a@b.example",
            "--grant",
            "all=full",
        ],
        "invalid_grant",
    );
    refused(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "a@b.example",
            "--grant",
            "network:net_nope=full",
        ],
        "unknown_network",
    );
    refused(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "nosuch",
            "--email",
            "a@b.example",
            "--org-access",
            "full",
        ],
        "not_found",
    );
    ok(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "a@b.example",
            "--org-access",
            "full",
        ],
    );
    refused(
        &env,
        &[
            "admin",
            "add",
            "--tenant",
            "globex-acme",
            "--email",
            "A@B.example",
            "--org-access",
            "full",
        ],
        "email_in_use",
    );
    // Networks.
    refused(
        &env,
        &[
            "network",
            "create",
            "--tenant",
            "globex-acme",
            "HQ",
            "--tag",
            "Not A Tag",
        ],
        "invalid_tag",
    );
    ok(
        &env,
        &["network", "create", "--tenant", "globex-acme", "HQ"],
    );
    refused(
        &env,
        &["network", "create", "--tenant", "globex-acme", "HQ"],
        "name_taken",
    );
    // MSP deletion with customers.
    refused(&env, &["tenant", "delete", "acme"], "has_customers");

    // Nothing the refusals touched exists.
    let all = ok(&env, &["tenant", "list"]);
    let names: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, vec!["acme", "globex-acme"]);
    assert_eq!(
        ok(&env, &["admin", "list", "--tenant", "globex-acme"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        ok(&env, &["network", "list", "--tenant", "globex-acme"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
