//! `tenantry demo`: an MSP `acme` with customers `globex` and `initech`, networks, tags
//! and admins, created idempotently; prints what exists and fresh enrolment links for
//! admins not yet enrolled, then serves.

use super::print_json;
use super::serve::{bind, open_core, run_bound, ServeArgs};
use crate::authz::{Grant, NetworkAccess, OrgAccess, Target};
use crate::config::Config;
use crate::core::admins::AdminSpec;
use crate::core::audit::Actor;
use crate::core::tenants::NewTenant;
use crate::core::Core;
use crate::error::{Error, Result};
use serde_json::{json, Value};

const MSP: &str = "acme";
const CUSTOMERS: &[(&str, &str, &str)] = &[
    ("globex", "Globex Corporation", "it@globex.example"),
    ("initech", "Initech", "it@initech.example"),
];
const NETWORKS: &[(&str, &str, &[&str])] = &[
    ("globex", "Headquarters", &["hq"]),
    ("globex", "Springfield branch", &["branch", "east"]),
    ("globex", "Shelbyville branch", &["branch", "west"]),
    ("initech", "Main office", &["hq"]),
    ("initech", "Data center", &["dc"]),
];

async fn ensure_tenant(
    core: &Core,
    name: &str,
    create: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    match core.find_tenant(name).await {
        Ok(_) => Ok(()),
        Err(Error::NotFound) => create.await,
        Err(e) => Err(e),
    }
}

async fn seed(core: &Core) -> Result<()> {
    let actor = Actor::cli();
    ensure_tenant(core, MSP, async {
        core.create_msp(
            NewTenant {
                name: MSP,
                display_name: Some("Acme Managed Services"),
                admin_email: Some("admin@acme.example"),
            },
            &actor,
        )
        .await
        .map(|_| ())
    })
    .await?;
    for (name, display, email) in CUSTOMERS {
        let label = format!("{name}-{MSP}");
        ensure_tenant(core, &label, async {
            core.create_customer(
                NewTenant {
                    name,
                    display_name: Some(display),
                    admin_email: Some(email),
                },
                MSP,
                &actor,
            )
            .await
            .map(|_| ())
        })
        .await?;
    }
    for (customer, network, tags) in NETWORKS {
        let label = format!("{customer}-{MSP}");
        if core.find_network_by_name(&label, network).await?.is_none() {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            core.create_network(&label, network, &tags, &actor).await?;
        }
    }
    // A branch manager who sees only the branch networks.
    let globex = format!("globex-{MSP}");
    let branch_admin = AdminSpec::new(
        "branch.manager@globex.example",
        Some("Branch Manager"),
        Some(OrgAccess::None),
        vec![Grant {
            target: Target::Tag("branch".into()),
            access: NetworkAccess::ReadOnly,
        }],
    )?;
    match core.add_admin(&globex, branch_admin, &actor).await {
        Ok(_) | Err(Error::Conflict { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn summary(core: &Core) -> Result<Value> {
    let actor = Actor::cli();
    let mut tenants = Vec::new();
    let mut names = vec![MSP.to_string()];
    names.extend(CUSTOMERS.iter().map(|(n, _, _)| format!("{n}-{MSP}")));
    for name in names {
        let t = core.find_tenant(&name).await?;
        let links = core.reissue_pending_enrolments(&t, &actor).await?;
        let admins: Vec<Value> = core
            .list_admins(&t)
            .await?
            .into_iter()
            .map(|a| {
                let link = links
                    .iter()
                    .find(|(e, _)| *e == a.email)
                    .map(|(_, u)| u.clone());
                json!({
                    "email": a.email,
                    "org_access": a.org_access,
                    "grants": a.grants,
                    "enrolment": a.enrolment,
                    "enrolment_url": link,
                })
            })
            .collect();
        tenants.push(json!({
            "name": t.name,
            "kind": t.kind,
            "display_name": t.display_name,
            "issuer": core.issuer(&t.name),
            "networks": core.list_networks(&t.name).await?,
            "admins": admins,
        }));
    }
    Ok(json!({ "tenants": tenants }))
}

pub async fn demo(config: &Config, args: &ServeArgs) -> Result<()> {
    let bound = bind(config, args)?;
    let core = open_core(config, &bound).await?;
    seed(&core).await?;
    print_json(&summary(&core).await?);
    eprintln!(
        "tenantry demo: open {} (MSP) or {} (customer); Ctrl-C stops the server.",
        core.issuer(MSP),
        core.issuer(&format!("globex-{MSP}"))
    );
    run_bound(core, bound, args).await
}
