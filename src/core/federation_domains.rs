//! Verified e-mail domains of a federation connection (decisions.md "SAML and federation":
//! "declared by an org-full admin; verified by a DNS TXT record `_tenantry.{domain}` where
//! DNS is reachable, or marked verified with the CLI"). As Okta, Entra ID and Google do it:
//! each declared domain carries a random value; its owner publishes
//! `_tenantry.{domain} TXT "tenantry-verification={value}"`; an org-full admin asks the
//! server to look, and the domain is verified only when one TXT record there equals the
//! expected text. A missing name, no matching record or an unreachable resolver changes
//! nothing. The lookup itself is the DNS adapter's (`crate::federation::dns`), handed in as
//! a function, so core sees only [`TxtLookup`]. Every verification is audited.
//!
//! A verified domain matters: it lets a connection with linking take over local accounts
//! of that domain (`federation_login`), so an admin can never mark one verified by hand
//! here; only the server's operator can, with the CLI.

use super::audit::{self, Actor, Change};
use super::federation::{normalise_domain, DnsRecord, Domain};
use super::manage::OrgCall;
use super::{Core, Error, Result};
use crate::store::{self, federation as rows, tenants as tenant_rows};
use crate::tenancy::Tenant;
use serde_json::json;
use std::future::Future;

/// The prefix of the TXT record's text; the random value follows.
pub const TXT_PREFIX: &str = "tenantry-verification=";

/// What a TXT lookup of `_tenantry.{domain}` found, in our own types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtLookup {
    /// The TXT records at the name, each one's strings joined (RFC 7208 §3.3).
    Found(Vec<String>),
    /// NXDOMAIN: the name does not exist.
    NoSuchName,
    /// The name exists but holds no TXT record.
    NoRecords,
    /// No answer: the resolver is unreachable, timed out or failed (SERVFAIL, ...).
    Unreachable(String),
}

/// A fresh random value for a newly declared domain: 128 bits, hex.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The record its owner publishes to prove control of `domain`.
pub fn dns_record(domain: &str, token: &str) -> DnsRecord {
    DnsRecord {
        name: format!("_tenantry.{domain}"),
        kind: "TXT",
        value: format!("{TXT_PREFIX}{token}"),
    }
}

pub(super) fn to_domain(d: &rows::DomainRow) -> Domain {
    Domain {
        domain: d.domain.clone(),
        verified: d.verified != 0,
        verified_by: d.verified_by.clone().filter(|_| d.verified != 0),
        verified_at: d
            .verified_at
            .filter(|_| d.verified != 0)
            .map(crate::clock::rfc3339),
        dns_record: dns_record(&d.domain, &d.verification_token),
    }
}

/// Whether one of the records found is exactly the expected text (surrounding blanks aside).
fn matches(found: &[String], expected: &str) -> bool {
    found.iter().any(|r| r.trim() == expected)
}

impl Core {
    /// Mark a declared domain verified by hand: the server's operator, with the CLI
    /// (decisions.md). Audited.
    pub async fn verify_domain(
        &self,
        tenant: &Tenant,
        domain: &str,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<Domain> {
        let domain = normalise_domain(domain)?;
        let mut conn = self.store.conn().await?;
        let d = rows::domain(&mut conn, &tenant.id, &domain)
            .await?
            .ok_or(Error::NotFound)?;
        drop(conn);
        if d.verified != 0 {
            return Ok(to_domain(&d));
        }
        self.mark_verified(tenant, d, "cli", actor, request_id)
            .await
    }

    /// Verify a declared domain by its DNS TXT record: `lookup` resolves the TXT records of
    /// a name (the DNS adapter). The domain must be one of `connection`'s (by id or name;
    /// another's answers "not found"). An already verified domain is answered as it is.
    /// Every failure changes nothing.
    pub async fn verify_domain_by_dns<F, Fut>(
        &self,
        tenant: &Tenant,
        connection: &str,
        domain: &str,
        lookup: F,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<Domain>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = TxtLookup>,
    {
        // A string that is no domain name cannot be a declared one.
        let domain = normalise_domain(domain).map_err(|_| Error::NotFound)?;
        let mut conn = self.store.conn().await?;
        let c = rows::get(&mut conn, &tenant.id, connection)
            .await?
            .ok_or(Error::NotFound)?;
        let d = rows::domain(&mut conn, &tenant.id, &domain)
            .await?
            .filter(|d| d.connection_id == c.id)
            .ok_or(Error::NotFound)?;
        // No connection is held while DNS answers (it may take seconds).
        drop(conn);
        if d.verified != 0 {
            return Ok(to_domain(&d));
        }
        let record = dns_record(&d.domain, &d.verification_token);
        let unchanged = "nothing was changed";
        match lookup(record.name.clone()).await {
            TxtLookup::Found(found) if matches(&found, &record.value) => {}
            TxtLookup::Found(found) => {
                return Err(Error::conflict(
                    "dns_record_mismatch",
                    format!(
                        "{} has {} TXT record(s), none of them \"{}\"; {unchanged}",
                        record.name,
                        found.len(),
                        record.value
                    ),
                ))
            }
            TxtLookup::NoSuchName => {
                return Err(Error::conflict(
                    "dns_record_missing",
                    format!(
                        "{} does not exist in DNS (NXDOMAIN): publish the TXT record \"{}\" \
                         there first; {unchanged}",
                        record.name, record.value
                    ),
                ))
            }
            TxtLookup::NoRecords => {
                return Err(Error::conflict(
                    "dns_record_missing",
                    format!(
                        "{} has no TXT record: publish \"{}\" there first; {unchanged}",
                        record.name, record.value
                    ),
                ))
            }
            TxtLookup::Unreachable(why) => {
                return Err(Error::conflict(
                    "dns_unavailable",
                    format!(
                        "DNS could not be asked about {} ({why}); {unchanged}, try again later",
                        record.name
                    ),
                ))
            }
        }
        self.mark_verified(tenant, d, "dns", actor, request_id)
            .await
    }

    /// The admin API's and the portal's DNS check: org full first (privileges.md rule 1),
    /// so a caller who may not change federation learns nothing, not even by DNS traffic.
    pub async fn api_verify_domain_by_dns<F, Fut>(
        &self,
        call: &OrgCall,
        connection: &str,
        domain: &str,
        lookup: F,
    ) -> Result<Domain>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = TxtLookup>,
    {
        call.require_org_full("change federation settings")?;
        self.verify_domain_by_dns(
            &call.org,
            connection,
            domain,
            lookup,
            &call.actor(),
            call.request_id.as_deref(),
        )
        .await
    }

    async fn mark_verified(
        &self,
        tenant: &Tenant,
        d: rows::DomainRow,
        by: &str,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<Domain> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let token = &d.verification_token;
        if !rows::set_verified(&mut tx, &tenant.id, &d.domain, token, by, now).await? {
            // Changed since it was read: verified meanwhile (answered as it is, nothing
            // audited twice), or removed or declared anew (its old record proves nothing).
            drop(tx);
            let mut conn = self.store.conn().await?;
            return match rows::domain(&mut conn, &tenant.id, &d.domain).await? {
                Some(current)
                    if current.verified != 0 && current.connection_id == d.connection_id =>
                {
                    Ok(to_domain(&current))
                }
                _ => Err(Error::NotFound),
            };
        }
        let after = rows::domain(&mut tx, &tenant.id, &d.domain)
            .await?
            .ok_or(Error::NotFound)?;
        let domain = to_domain(&after);
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "federation.domain_verified",
                target: format!("federation:{}", d.connection_id),
                before: Some(json!({"domain": d.domain, "verified": d.verified != 0})),
                after: Some(json!({"domain": d.domain, "verified": true, "verified_by": by})),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_matching() {
        let r = dns_record("corp.example", "abc");
        assert_eq!(r.name, "_tenantry.corp.example");
        assert_eq!(r.value, "tenantry-verification=abc");
        assert!(matches(&["tenantry-verification=abc ".into()], &r.value));
        assert!(!matches(&["tenantry-verification=abcd".into()], &r.value));
        assert!(!matches(&["tenantry-verification=ABC".into()], &r.value));
        assert!(!matches(&[], &r.value));
        let t = new_token();
        assert_eq!(t.len(), 32);
        assert_ne!(t, new_token());
    }
}
