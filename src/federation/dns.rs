//! The DNS adapter of domain verification (decisions.md "SAML and federation"): the TXT
//! records at `_tenantry.{domain}`, asked of the configured server (`dns_server`, UDP with
//! TCP for truncated answers) or else the system resolver, with a short timeout, one
//! attempt and no cache, so a record just published is seen at once. hickory-resolver's
//! types stay in this file; core receives a [`TxtLookup`].

use crate::core::federation_domains::TxtLookup;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, ResolveError, Resolver};
use std::net::SocketAddr;
use std::time::Duration;

/// How long one question may take.
const TIMEOUT: Duration = Duration::from_secs(2);

fn resolver(server: Option<SocketAddr>) -> Result<Resolver<TokioConnectionProvider>, String> {
    let (config, mut opts) = match server {
        Some(addr) => {
            let mut config = ResolverConfig::new();
            config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
            config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
            (config, ResolverOpts::default())
        }
        None => hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("the system resolver is not configured: {e}"))?,
    };
    opts.timeout = TIMEOUT;
    opts.attempts = 1;
    opts.cache_size = 0;
    Ok(
        Resolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(opts)
            .build(),
    )
}

fn classify(e: &ResolveError) -> TxtLookup {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => match *response_code {
            ResponseCode::NXDomain => TxtLookup::NoSuchName,
            ResponseCode::NoError => TxtLookup::NoRecords,
            other => TxtLookup::Unreachable(format!("the DNS server answered {other}")),
        },
        Some(ProtoErrorKind::Timeout) => {
            TxtLookup::Unreachable(format!("no answer within {} seconds", TIMEOUT.as_secs()))
        }
        _ => TxtLookup::Unreachable(format!("the lookup failed: {e}")),
    }
}

/// The TXT records at `name` (each record's strings joined), or why there are none.
pub async fn txt_records(server: Option<SocketAddr>, name: String) -> TxtLookup {
    let fqdn = match Name::from_ascii(format!("{}.", name.trim_end_matches('.'))) {
        Ok(n) => n,
        Err(_) => return TxtLookup::NoSuchName,
    };
    let resolver = match resolver(server) {
        Ok(r) => r,
        Err(e) => return TxtLookup::Unreachable(e),
    };
    // The resolver's own timeout covers each exchange; this bounds the whole question.
    let answer = tokio::time::timeout(TIMEOUT * 2, resolver.txt_lookup(fqdn)).await;
    match answer {
        Err(_) => TxtLookup::Unreachable(format!(
            "no answer within {} seconds",
            (TIMEOUT * 2).as_secs()
        )),
        Ok(Err(e)) => classify(&e),
        Ok(Ok(lookup)) => {
            let found: Vec<String> = lookup
                .iter()
                .map(|txt| {
                    txt.iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>()
                })
                .collect();
            if found.is_empty() {
                TxtLookup::NoRecords
            } else {
                TxtLookup::Found(found)
            }
        }
    }
}
