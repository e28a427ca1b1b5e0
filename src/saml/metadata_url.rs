//! SP metadata by URL (issue 7): fetched once, when the SP is registered, under the fetch
//! policy of `crate::federation::fetch` (https only, no private or loopback addresses
//! unless `--allow-insecure-fetch`, no redirects, size and time caps), then parsed like
//! pasted metadata. The URL is kept with the SP for the record; it is never fetched again.

use crate::core::saml::NewSamlSp;
use crate::federation::fetch::Fetcher;

/// Fetch and parse an SP's metadata; the error is a sentence safe to show.
pub async fn fetch_sp_metadata(url: &str, allow_insecure: bool) -> Result<NewSamlSp, String> {
    let parsed =
        url::Url::parse(url.trim()).map_err(|_| "the metadata URL is not a URL".to_string())?;
    let fetcher = Fetcher::new(allow_insecure).map_err(|e| e.0)?;
    fetcher.check_url(&parsed).map_err(|e| e.0)?;
    let req = axum::http::Request::builder()
        .method("GET")
        .uri(parsed.as_str())
        .header(
            "accept",
            "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8",
        )
        .body(Vec::new())
        .map_err(|_| "the metadata URL is not a URL".to_string())?;
    let resp = fetcher.send(req).await.map_err(|e| e.0)?;
    if !resp.status().is_success() {
        return Err(format!(
            "fetching the metadata answered HTTP {}",
            resp.status().as_u16()
        ));
    }
    let xml = String::from_utf8(resp.into_body())
        .map_err(|_| "the fetched metadata is not UTF-8".to_string())?;
    let mut new = super::parse_sp_metadata(&xml)?;
    new.metadata_url = Some(parsed.to_string());
    Ok(new)
}
