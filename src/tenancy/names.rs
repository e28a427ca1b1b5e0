//! Tenant names and hosts (product.md "Tenants and addresses"). Pure: no async, no I/O.
//!
//! An MSP is `{msp}`, a customer `{customer}-{msp}`, a standalone org `{org}`; the full
//! label is the canonical name. MSP and standalone names contain no `-`, so a label with
//! a `-` can only be a customer of the MSP named after its last `-`.

use crate::error::{Error, Result};
use std::borrow::Cow;

pub const RESERVED: &[&str] = &[
    "www",
    "api",
    "admin",
    "login",
    "portal",
    "static",
    "mail",
    "localhost",
];

pub const MAX_LABEL: usize = 63;

/// Lower-case letters, digits and `-`, no leading or trailing `-`.
fn check_chars(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(
            "invalid_name",
            format!("the {what} name is empty"),
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Error::invalid(
            "invalid_name",
            format!("the {what} name '{name}' may contain only lower-case letters, digits and '-'"),
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(Error::invalid(
            "invalid_name",
            format!("the {what} name '{name}' must not start or end with '-'"),
        ));
    }
    if RESERVED.contains(&name) {
        return Err(Error::invalid(
            "reserved_name",
            format!("'{name}' is a reserved name"),
        ));
    }
    Ok(())
}

fn check_length(label: &str) -> Result<()> {
    if label.len() > MAX_LABEL {
        return Err(Error::invalid(
            "invalid_name",
            format!("the name '{label}' is longer than {MAX_LABEL} characters"),
        ));
    }
    Ok(())
}

/// An MSP or standalone org name: like any name, and without `-`.
pub fn validate_top_level(what: &str, name: &str) -> Result<()> {
    check_chars(what, name)?;
    if name.contains('-') {
        return Err(Error::invalid(
            "invalid_name",
            format!("the {what} name '{name}' must not contain '-' (only customer names may)"),
        ));
    }
    check_length(name)
}

/// A customer's full label `{customer}-{msp}`, given both parts.
pub fn customer_label(customer: &str, msp: &str) -> Result<String> {
    check_chars("customer", customer)?;
    validate_top_level("MSP", msp)?;
    let label = format!("{customer}-{msp}");
    check_length(&label)?;
    Ok(label)
}

/// What a request's Host header designates, given the base domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind<'a> {
    /// The bare base host or an IP literal: health, metrics and a neutral landing page.
    Base,
    /// `{label}.{base}`: looked up whole as a tenant name.
    Label(Cow<'a, str>),
    /// Anything else: 404.
    Other,
}

/// Normalise a Host header: lower-cased, port and trailing dot stripped. Borrowed when
/// the header is already lower case (as clients send it), so a request allocates nothing.
pub fn normalise_host(header: &str) -> Cow<'_, str> {
    // Cut on the original (case does not move `[`, `]` or `:`), then lower-case once.
    let h = header.trim();
    let host = if h.starts_with('[') {
        // IPv6 literal: [::1]:8080
        h.find(']').map_or(h, |i| &h[..=i])
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => h,
        }
    };
    let host = host.trim_end_matches('.');
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

pub fn classify_host<'a>(header: &'a str, base_domain: &str) -> HostKind<'a> {
    let host = normalise_host(header);
    if host == base_domain || host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return HostKind::Base;
    }
    let label_len = match host
        .strip_suffix(base_domain)
        .and_then(|l| l.strip_suffix('.'))
    {
        Some(label) if !label.is_empty() && !label.contains('.') => label.len(),
        _ => return HostKind::Other,
    };
    HostKind::Label(match host {
        Cow::Borrowed(h) => Cow::Borrowed(&h[..label_len]),
        Cow::Owned(mut h) => {
            h.truncate(label_len);
            Cow::Owned(h)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(classify_host("localhost:8080", "localhost"), HostKind::Base);
        assert_eq!(classify_host("127.0.0.1:8080", "localhost"), HostKind::Base);
        assert_eq!(classify_host("[::1]:8080", "localhost"), HostKind::Base);
        assert_eq!(
            classify_host("Globex-Acme.localhost.:8080", "localhost"),
            HostKind::Label("globex-acme".into())
        );
        assert_eq!(classify_host("a.b.localhost", "localhost"), HostKind::Other);
        assert_eq!(classify_host("evil.example", "localhost"), HostKind::Other);
        assert_eq!(classify_host("xlocalhost", "localhost"), HostKind::Other);
        assert_eq!(normalise_host(" [::1]:8080 "), "[::1]");
        assert_eq!(normalise_host("[::1"), "[::1");
        assert_eq!(
            normalise_host("Globex-Acme.LocalHost..:443"),
            "globex-acme.localhost"
        );
        assert_eq!(normalise_host("host:port"), "host:port");
        // Lower case already (as clients send it): borrowed, nothing allocated.
        assert!(matches!(
            classify_host("globex-acme.localhost:8080", "localhost"),
            HostKind::Label(Cow::Borrowed("globex-acme"))
        ));
        assert!(matches!(normalise_host("Globex.localhost"), Cow::Owned(_)));
        assert_eq!(normalise_host(""), "");
    }

    #[test]
    fn names() {
        assert!(validate_top_level("MSP", "acme").is_ok());
        assert!(validate_top_level("MSP", "ac-me").is_err());
        assert!(validate_top_level("MSP", "Acme").is_err());
        assert!(validate_top_level("MSP", "www").is_err());
        assert_eq!(customer_label("globex", "acme").unwrap(), "globex-acme");
        assert_eq!(customer_label("big-corp", "acme").unwrap(), "big-corp-acme");
        assert!(customer_label("-x", "acme").is_err());
        assert!(customer_label("api", "acme").is_err());
        assert!(customer_label(&"a".repeat(60), "acme").is_err());
    }
}
