//! Inbound federation connections per tenant (product.md "Directory and federation",
//! decisions.md "SAML and federation", issue 7 part 4): an upstream OIDC provider or SAML
//! IdP, the e-mail domains that select it on `/login` (verified by DNS or the CLI), the
//! claim or attribute whose values name role mappings, and whether a sign-in may link to
//! an existing local account of a verified domain. The OIDC client secret is sealed with
//! the master key (security.md "Secrets at rest"). Managing connections needs org full
//! (privileges.md rule 1); every change is audited.
//!
//! The sign-in itself is in `federation_login`, domain verification in
//! `federation_domains`. Imports store, never a protocol library.

use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
use super::secrets::SealContext;
use super::{Core, Error, Result};
use crate::authz::OrgAccess;
use crate::store::{self, federation as rows, tenants as tenant_rows};
use crate::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::json;

const TABLE: &str = "federation_connections";
const SECRET_PURPOSE: &str = "client_secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Oidc,
    Saml,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Oidc => "oidc",
            Kind::Saml => "saml",
        }
    }
}

/// A connection to create (CLI flags or the admin API's JSON body).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// The connection's name in URLs (`/federation/{name}/callback`).
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub kind: Kind,
    /// OIDC: the issuer URL (discovery at `{issuer}/.well-known/openid-configuration`).
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// OIDC scopes besides `openid` [default: email profile].
    #[serde(default)]
    pub scopes: Vec<String>,
    /// SAML: the IdP's metadata XML.
    #[serde(default)]
    pub metadata: Option<String>,
    /// SAML, instead of `metadata`: where to fetch it from, once, at registration (the
    /// fetch policy of SP metadata by URL). The adapter fetches it before core sees it.
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// The claim (OIDC) or attribute (SAML) naming role mappings [default: groups, or role
    /// for SAML].
    #[serde(default)]
    pub claim: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub allow_linking: bool,
}

/// A declared e-mail domain and how to prove it is ours (`federation_domains`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Domain {
    pub domain: String,
    pub verified: bool,
    /// `dns` or `cli`; null while unverified.
    pub verified_by: Option<String>,
    pub verified_at: Option<String>,
    /// The TXT record to publish.
    pub dns_record: DnsRecord,
}

/// The DNS record that proves control of a domain, exactly as it is to be published.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DnsRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

/// A connection as shown: never the client secret.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub has_client_secret: bool,
    pub scopes: Vec<String>,
    pub claim: String,
    pub domains: Vec<Domain>,
    pub allow_linking: bool,
    /// Where the upstream sends the browser back (register it there).
    pub redirect_uri: String,
    /// SAML: where the IdP's metadata was fetched from at registration, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    pub created_at: String,
    #[serde(skip)]
    pub metadata: Option<String>,
}

/// What the OIDC adapter needs: the opened client secret included.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
}

fn seal_ctx<'a>(tenant: &'a Tenant, id: &'a str) -> SealContext<'a> {
    SealContext {
        tenant: tenant.id.as_str(),
        table: TABLE,
        row: id,
        purpose: SECRET_PURPOSE,
    }
}

/// Lower-case letters, digits and `-`, 1 to 40 characters.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "invalid_name",
            "a connection name is 1 to 40 lower-case letters, digits and '-'",
        ))
    }
}

/// A DNS name, lower-cased: labels of letters, digits and `-`, at least two of them.
pub fn normalise_domain(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(Error::invalid(
            "invalid_domain",
            format!("'{}' is not a domain name", domain.trim()),
        ))
    }
}

/// The domain of an e-mail address, normalised; None when it has none.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, d) = email.trim().rsplit_once('@')?;
    normalise_domain(d).ok()
}

fn check_url(field: &'static str, s: &str) -> Result<String> {
    let u = url::Url::parse(s.trim())
        .map_err(|_| Error::invalid("invalid_url", format!("{field} is not a URL")))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return Err(Error::invalid(
            "invalid_url",
            format!("{field} must be an http(s) URL with a host"),
        ));
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err(Error::invalid(
            "invalid_url",
            format!("{field} must have no query, fragment or user information"),
        ));
    }
    Ok(s.trim().trim_end_matches('/').to_string())
}

fn text(field: &'static str, s: Option<&str>, max: usize) -> Result<String> {
    match s.map(str::trim) {
        Some(v) if !v.is_empty() && v.len() <= max && !v.chars().any(char::is_control) => {
            Ok(v.to_string())
        }
        _ => Err(Error::invalid(
            "invalid_field",
            format!("{field} is required (at most {max} characters)"),
        )),
    }
}

impl Core {
    /// `{issuer}/federation/{name}/callback`: the redirect URI to register upstream.
    pub fn federation_redirect_uri(&self, tenant: &Tenant, name: &str) -> String {
        format!("{}/federation/{name}/callback", self.issuer(&tenant.name))
    }

    fn to_connection(
        &self,
        tenant: &Tenant,
        r: rows::ConnectionRow,
        domains: &[rows::DomainRow],
    ) -> Connection {
        Connection {
            redirect_uri: self.federation_redirect_uri(tenant, &r.name),
            kind: if r.kind == "saml" {
                Kind::Saml
            } else {
                Kind::Oidc
            },
            scopes: serde_json::from_str(&r.scopes).unwrap_or_default(),
            has_client_secret: r.client_secret.is_some(),
            domains: domains
                .iter()
                .filter(|d| d.connection_id == r.id)
                .map(super::federation_domains::to_domain)
                .collect(),
            allow_linking: r.allow_linking != 0,
            created_at: crate::clock::rfc3339(r.created_at),
            id: r.id,
            name: r.name,
            display_name: r.display_name,
            issuer: r.issuer,
            client_id: r.client_id,
            claim: r.claim,
            metadata_url: r.metadata_url,
            metadata: r.metadata,
        }
    }

    pub async fn create_connection(
        &self,
        tenant: &Tenant,
        new: NewConnection,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<Connection> {
        check_name(&new.name)?;
        let display_name = match new.display_name.as_deref() {
            Some(d) => text("display_name", Some(d), 100)?,
            None => new.name.clone(),
        };
        let mut domains = Vec::new();
        for d in &new.domains {
            let d = normalise_domain(d)?;
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        let id = format!("fed_{}", &crate::ids::MappingId::generate().0[4..]);
        let (issuer, client_id, secret, metadata, metadata_url, default_claim) = match new.kind {
            Kind::Oidc => {
                let issuer = check_url("issuer", new.issuer.as_deref().unwrap_or_default())?;
                let client_id = text("client_id", new.client_id.as_deref(), 200)?;
                let secret = match new.client_secret.as_deref().filter(|s| !s.is_empty()) {
                    Some(s) => Some(self.keys.seal(&seal_ctx(tenant, &id), s.as_bytes())?),
                    None => None,
                };
                (Some(issuer), Some(client_id), secret, None, None, "groups")
            }
            Kind::Saml => {
                let md = new
                    .metadata
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty() && m.len() <= 256 * 1024)
                    .ok_or_else(|| {
                        Error::invalid("invalid_field", "metadata is required (at most 256 KiB)")
                    })?
                    .to_string();
                let url = match new.metadata_url.as_deref().map(str::trim) {
                    Some(u) if u.len() > 2000 || u.chars().any(char::is_control) => {
                        return Err(Error::invalid("invalid_metadata_url", "not a URL"))
                    }
                    u => u.filter(|u| !u.is_empty()).map(str::to_string),
                };
                (None, None, None, Some(md), url, "role")
            }
        };
        let mut scopes: Vec<String> = Vec::new();
        for s in &new.scopes {
            let s = s.trim();
            if s.is_empty() || s.len() > 100 || !s.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::invalid("invalid_scope", "scopes are plain words"));
            }
            if s != "openid" && !scopes.iter().any(|x| x == s) {
                scopes.push(s.to_string());
            }
        }
        if scopes.is_empty() && new.kind == Kind::Oidc {
            scopes = vec!["email".into(), "profile".into()];
        }
        let claim = match new.claim.as_deref() {
            Some(c) => text("claim", Some(c), 200)?,
            None => default_claim.to_string(),
        };
        let now = self.clock.now();
        let row = rows::ConnectionRow {
            id: id.clone(),
            name: new.name.clone(),
            display_name,
            kind: new.kind.as_str().into(),
            issuer,
            client_id,
            client_secret: secret,
            scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
            metadata,
            metadata_url,
            claim,
            allow_linking: i64::from(new.allow_linking),
            created_at: now,
        };
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        rows::insert(&mut tx, &tenant.id, &row).await?;
        for d in &domains {
            let token = super::federation_domains::new_token();
            rows::insert_domain(&mut tx, &tenant.id, &id, d, &token, now).await?;
        }
        let all = rows::domains(&mut tx, &tenant.id).await?;
        let created = self.to_connection(tenant, row, &all);
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "federation.create",
                target: format!("federation:{id}"),
                before: None,
                after: Some(json!(created)),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(created)
    }

    pub async fn list_connections(&self, tenant: &Tenant) -> Result<Vec<Connection>> {
        let mut conn = self.store.conn().await?;
        let domains = rows::domains(&mut conn, &tenant.id).await?;
        Ok(rows::list(&mut conn, &tenant.id)
            .await?
            .into_iter()
            .map(|r| self.to_connection(tenant, r, &domains))
            .collect())
    }

    /// A connection by id or name.
    pub async fn connection(&self, tenant: &Tenant, key: &str) -> Result<Connection> {
        let mut conn = self.store.conn().await?;
        let row = rows::get(&mut conn, &tenant.id, key)
            .await?
            .ok_or(Error::NotFound)?;
        let domains = rows::domains(&mut conn, &tenant.id).await?;
        Ok(self.to_connection(tenant, row, &domains))
    }

    /// Home-realm discovery: the connection whose domain is the e-mail's domain.
    pub async fn connection_for_email(
        &self,
        tenant: &Tenant,
        email: &str,
    ) -> Result<Option<Connection>> {
        let Some(domain) = email_domain(email) else {
            return Ok(None);
        };
        let mut conn = self.store.conn().await?;
        let Some(d) = rows::domain(&mut conn, &tenant.id, &domain).await? else {
            return Ok(None);
        };
        drop(conn);
        self.connection(tenant, &d.connection_id).await.map(Some)
    }

    /// The OIDC settings of a connection, its client secret opened.
    pub async fn oidc_settings(&self, tenant: &Tenant, c: &Connection) -> Result<OidcSettings> {
        let mut conn = self.store.conn().await?;
        let row = rows::get(&mut conn, &tenant.id, &c.id)
            .await?
            .ok_or(Error::NotFound)?;
        let (Some(issuer), Some(client_id)) = (row.issuer, row.client_id) else {
            return Err(Error::invalid("not_oidc", "this connection is not OIDC"));
        };
        let client_secret = match row.client_secret {
            Some(s) => Some(
                String::from_utf8(self.keys.open(&seal_ctx(tenant, &row.id), &s)?)
                    .map_err(|_| Error::internal("client secret is not UTF-8"))?,
            ),
            None => None,
        };
        Ok(OidcSettings {
            issuer,
            client_id,
            client_secret,
            scopes: c.scopes.clone(),
            redirect_uri: c.redirect_uri.clone(),
        })
    }

    pub async fn delete_connection(
        &self,
        tenant: &Tenant,
        key: &str,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<()> {
        let before = self.connection(tenant, key).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await?
            || !rows::delete(&mut tx, &tenant.id, &before.id).await?
        {
            return Err(Error::NotFound);
        }
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "federation.delete",
                target: format!("federation:{}", before.id),
                before: Some(json!(before)),
                after: None,
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(())
    }

    // The admin API's view: org read-only lists, org full changes (privileges.md rule 1).

    fn require_federation_reader(call: &OrgCall) -> Result<()> {
        if call.eff.org_access == OrgAccess::None {
            return Err(Error::forbidden(
                "org_read_required",
                "federation settings need org read-only access",
            ));
        }
        Ok(())
    }

    pub async fn api_list_connections(&self, call: &OrgCall) -> Result<Vec<Connection>> {
        Self::require_federation_reader(call)?;
        self.list_connections(&call.org).await
    }

    pub async fn api_get_connection(&self, call: &OrgCall, key: &str) -> Result<Connection> {
        Self::require_federation_reader(call)?;
        self.connection(&call.org, key).await
    }

    pub async fn api_create_connection(
        &self,
        call: &OrgCall,
        new: NewConnection,
    ) -> Result<Connection> {
        call.require_org_full("change federation settings")?;
        self.create_connection(&call.org, new, &call.actor(), call.request_id.as_deref())
            .await
    }

    pub async fn api_delete_connection(&self, call: &OrgCall, key: &str) -> Result<()> {
        call.require_org_full("change federation settings")?;
        self.delete_connection(&call.org, key, &call.actor(), call.request_id.as_deref())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_names() {
        assert_eq!(normalise_domain(" Example.COM. ").unwrap(), "example.com");
        assert!(normalise_domain("localhost").is_err());
        assert!(normalise_domain("-a.com").is_err());
        assert!(normalise_domain("a..com").is_err());
        assert_eq!(
            email_domain("Pat@Corp.Example").as_deref(),
            Some("corp.example")
        );
        assert_eq!(email_domain("nobody"), None);
        assert!(check_name("corp-sso").is_ok());
        assert!(check_name("Corp").is_err());
        assert!(check_name("").is_err());
        assert!(check_url("issuer", "https://idp.example/").is_ok());
        assert!(check_url("issuer", "ftp://idp.example").is_err());
        assert!(check_url("issuer", "https://idp.example/?x=1").is_err());
    }
}
