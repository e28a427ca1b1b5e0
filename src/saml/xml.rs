//! Small XML helpers for the SAML adapter: refusing documents with DTDs, entities or
//! processing instructions before any parser sees them, naming the root element, escaping
//! text we write, and SAML's time format.

/// Hostile XML from the network: no `<!DOCTYPE`, `<!ENTITY`, CDATA or comments (`<!`
/// anywhere), no processing instruction but a leading XML declaration, and a size cap.
/// Checked before parsing, so no parser ever resolves an entity.
pub fn check_plain(xml: &str, max: usize) -> Result<(), &'static str> {
    if xml.len() > max {
        return Err("the XML document is too large");
    }
    if xml.contains("<!") {
        return Err("XML with a DTD, entity declarations, CDATA or comments is refused");
    }
    let body = xml.trim_start_matches('\u{feff}').trim_start();
    let rest = match body.strip_prefix("<?xml") {
        Some(r) if r.starts_with(|c: char| c.is_ascii_whitespace()) => match r.find("?>") {
            Some(end) => &r[end + 2..],
            None => return Err("the XML declaration is not closed"),
        },
        _ => body,
    };
    if rest.contains("<?") {
        return Err("XML processing instructions are refused");
    }
    Ok(())
}

/// The root element's local name and namespace prefix (`samlp:AuthnRequest` ->
/// (`samlp`, `AuthnRequest`)), if the document has one.
pub fn root_name(xml: &str) -> Option<(&str, &str)> {
    let mut rest = xml;
    loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        if rest.starts_with('?') {
            let end = rest.find("?>")?;
            rest = &rest[end + 2..];
            continue;
        }
        let end = rest.find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')?;
        let qname = &rest[..end];
        return Some(match qname.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", qname),
        });
    }
}

/// The namespace URI a prefix (or the default namespace, for "") is bound to on the root
/// element. Enough for SAML messages, whose roots declare their own namespace.
pub fn root_namespace<'a>(xml: &'a str, prefix: &str) -> Option<&'a str> {
    let open_start = xml.find('<').map(|i| {
        // Skip a leading declaration.
        if xml[i..].starts_with("<?") {
            xml[i..].find("?>").map(|e| i + e + 2).unwrap_or(i)
        } else {
            i
        }
    })?;
    let tag_start = open_start + xml[open_start..].find('<')?;
    let tag_end = tag_start + xml[tag_start..].find('>')?;
    let tag = &xml[tag_start..tag_end];
    let attr = if prefix.is_empty() {
        "xmlns=".to_string()
    } else {
        format!("xmlns:{prefix}=")
    };
    let at = tag.find(&attr)? + attr.len();
    let quote = tag[at..].chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = &tag[at + 1..];
    let end = value.find(quote)?;
    Some(&value[..end])
}

/// Escape text or an attribute value (double-quoted) for XML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// A character XML 1.0 cannot carry (C0 controls but tab, LF, CR; U+FFFE, U+FFFF)
/// becomes U+FFFD, so that a stray control character in a name cannot break a document.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
        c => c,
    }
}

/// Text content exactly as Canonical XML writes it (xml-c14n §2.3: `&`, `<`, `>` and CR
/// escaped, nothing else), so that a document we write is already its own canonical form.
pub fn c14n_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// A double-quoted attribute value exactly as Canonical XML writes it (`&`, `<`, `"`,
/// tab, LF and CR escaped).
pub fn c14n_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// SAML's xs:dateTime in UTC, whole seconds: `2027-01-15T08:00:00Z`.
pub fn instant(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dtds_and_pis() {
        assert!(check_plain("<a/>", 100).is_ok());
        assert!(check_plain("<?xml version=\"1.0\"?><a/>", 100).is_ok());
        assert!(check_plain(
            "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
            1000
        )
        .is_err());
        assert!(check_plain("<a><?php x ?></a>", 100).is_err());
        assert!(check_plain("<a/>", 2).is_err());
    }

    #[test]
    fn names_the_root() {
        let x = "<?xml version=\"1.0\"?><samlp:AuthnRequest xmlns:samlp=\"urn:x\" ID=\"a\"/>";
        assert_eq!(root_name(x), Some(("samlp", "AuthnRequest")));
        assert_eq!(root_namespace(x, "samlp"), Some("urn:x"));
        assert_eq!(instant(1_800_000_000), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn escapes_like_canonical_xml() {
        assert_eq!(
            c14n_text("a&b<c>d\"e'\r\u{1}"),
            "a&amp;b&lt;c&gt;d\"e'&#xD;\u{fffd}"
        );
        assert_eq!(
            c14n_attr("a&b<c>d\"e'\t\n\r"),
            "a&amp;b&lt;c>d&quot;e'&#x9;&#xA;&#xD;"
        );
    }
}
