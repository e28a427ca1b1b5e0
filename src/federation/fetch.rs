//! Outgoing HTTP for federation (discovery, JWKS, the token endpoint): product.md
//! "Fetching metadata or discovery documents from a URL: https only, and private or
//! loopback addresses refused unless the server is started with a flag that allows them"
//! (`serve --allow-insecure-fetch`, decisions.md). The address check runs on the resolved
//! addresses (a name that resolves to a private address is refused too), redirects are not
//! followed, and answers are capped in size and time.
//!
//! `*.localhost` names resolve to 127.0.0.1 (RFC 6761), so tests can reach tenants of the
//! same server over loopback when the flag allows it.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const MAX_BODY: usize = 1 << 20;

/// Why a fetch was refused or failed; the message is safe to show.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Addresses no outgoing fetch may reach without the flag.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

fn is_localhost(name: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n == "localhost" || n.ends_with(".localhost")
}

struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = if is_localhost(&host) {
                vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)]
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allow || !is_private(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    Box::new(FetchError(format!("{host} resolves to no public address")))
                        as Box<dyn std::error::Error + Send + Sync>,
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client of federation, under the fetch policy.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_insecure: bool,
}

impl Fetcher {
    pub fn new(allow_insecure: bool) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: allow_insecure,
            }))
            .build()
            .map_err(|e| FetchError(format!("HTTP client: {e}")))?;
        Ok(Fetcher {
            client,
            allow_insecure,
        })
    }

    /// Refuse a URL the policy does not allow: not https (without the flag), or a literal
    /// private address (names are checked when they resolve).
    pub fn check_url(&self, url: &url::Url) -> Result<(), FetchError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure => {}
            other => {
                return Err(FetchError(format!(
                    "only https URLs may be fetched (found {other}://)"
                )))
            }
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) if is_localhost(d) && !self.allow_insecure => {
                return Err(FetchError(format!("{d} is a loopback address")))
            }
            Some(url::Host::Domain(_)) => None,
            None => return Err(FetchError("the URL has no host".into())),
        };
        if let Some(ip) = literal.filter(|ip| is_private(*ip) && !self.allow_insecure) {
            return Err(FetchError(format!("{ip} is a private address")));
        }
        Ok(())
    }

    /// The client as openidconnect takes it: a closure over an owned copy (its futures
    /// are `Send + 'static`, as axum handlers need).
    pub fn client_fn(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, FetchError>>
                + Send,
        >,
    > {
        let this = self.clone();
        move |req| {
            let this = this.clone();
            Box::pin(async move { this.send(req).await })
        }
    }

    /// GET a text document (metadata) under the policy: the URL checked, a 2xx answer,
    /// UTF-8. Returns the URL as parsed and the text.
    pub async fn fetch_document(
        &self,
        url: &str,
        accept: &'static str,
    ) -> Result<(url::Url, String), FetchError> {
        let parsed = url::Url::parse(url.trim())
            .map_err(|_| FetchError("the address given is not a URL".into()))?;
        self.check_url(&parsed)?;
        let req = openidconnect::http::Request::builder()
            .method("GET")
            .uri(parsed.as_str())
            .header("accept", accept)
            .body(Vec::new())
            .map_err(|_| FetchError("the address given is not a URL".into()))?;
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(FetchError(format!(
                "fetching {} answered HTTP {}",
                parsed,
                resp.status().as_u16()
            )));
        }
        let text = String::from_utf8(resp.into_body())
            .map_err(|_| FetchError("the fetched document is not UTF-8".into()))?;
        Ok((parsed, text))
    }

    /// One request as openidconnect hands it over; the answer as it expects it.
    pub async fn send(
        &self,
        req: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, FetchError> {
        let url = url::Url::parse(&req.uri().to_string())
            .map_err(|_| FetchError("a URL from the identity provider is malformed".into()))?;
        self.check_url(&url)?;
        let req: reqwest::Request = req
            .try_into()
            .map_err(|e: reqwest::Error| FetchError(format!("request: {e}")))?;
        let mut resp = self.client.execute(req).await.map_err(|e| {
            FetchError(format!(
                "{} could not be reached: {}",
                url.host_str().unwrap_or_default(),
                std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| e.to_string())
            ))
        })?;
        let mut out = openidconnect::http::Response::builder().status(resp.status().as_u16());
        for (k, v) in resp.headers() {
            out = out.header(k.as_str(), v.as_bytes());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FetchError(format!("reading the answer: {e}")))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError("the answer is too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        out.body(body)
            .map_err(|e| FetchError(format!("answer: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_and_schemes() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
        let strict = Fetcher::new(false).unwrap();
        let ok = |s: &str| strict.check_url(&url::Url::parse(s).unwrap()).is_ok();
        assert!(ok("https://idp.example/.well-known/openid-configuration"));
        assert!(!ok("http://idp.example/"));
        assert!(!ok("https://127.0.0.1/"));
        assert!(!ok("https://[::1]/"));
        assert!(!ok("https://a.localhost/"));
        let lax = Fetcher::new(true).unwrap();
        assert!(lax
            .check_url(&url::Url::parse("http://a.localhost:8080/").unwrap())
            .is_ok());
    }
}
