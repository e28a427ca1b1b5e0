//! SAML responses signed per second (issue 7, part 6): the SSO endpoint's own builder
//! (`tenantry::saml::signed_response`: a signed Assertion inside a signed Response, two
//! RSA-2048 / SHA-256 signatures, a realistic attribute statement), in process, first on
//! one thread and then on two. Target >= 1,000/s on this machine's 2 cores.
//!
//! Baselines measured in the same run (decisions.md "General"): raw RSA-2048 PKCS#1 v1.5
//! SHA-256 signatures per second through OpenSSL on one thread (bench/saml.sh adds
//! `openssl speed rsa2048`), whose half is the ceiling for a response signing both
//! halves; and the former path (samael's `sign_xml`, which parses the XML and decodes the
//! key once per signature) for comparison. Every response is checked once with xmlsec.
//!
//! Environment: DURATION (seconds per phase, default 5). `cargo test --all-targets` runs
//! this binary without `--bench`: then a smoke run of a fraction of a second per phase.

use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenantry::core::saml::SamlSubject;
use tenantry::saml::{signed_response, ResponseContext};

fn key_and_cert() -> (Vec<u8>, Vec<u8>) {
    let rsa = openssl::rsa::Rsa::generate(2048).expect("rsa");
    let pkey = openssl::pkey::PKey::from_rsa(rsa).expect("pkey");
    let mut b = openssl::x509::X509Builder::new().expect("builder");
    b.set_pubkey(&pkey).expect("pubkey");
    let start = openssl::asn1::Asn1Time::days_from_now(0).expect("time");
    let end = openssl::asn1::Asn1Time::days_from_now(1).expect("time");
    b.set_not_before(&start).expect("not before");
    b.set_not_after(&end).expect("not after");
    b.sign(&pkey, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    (
        pkey.private_key_to_pkcs8().expect("pkcs8"),
        b.build().to_der().expect("der"),
    )
}

fn subject() -> SamlSubject {
    SamlSubject {
        name_id: "usr_0123456789abcdefghij".into(),
        session_index: "ses_0123456789abcdefghij".into(),
        auth_time: 1_800_000_000,
        session_expires_at: 1_800_043_200,
        attributes: vec![
            ("email".into(), vec!["pat@globex.example".into()]),
            ("name".into(), vec!["Pat Example".into()]),
            ("tenant".into(), vec!["globex-acme".into()]),
            ("org_access".into(), vec!["read-only".into()]),
            (
                "networks".into(),
                vec![
                    "net_aaaaaaaaaaaaaaaaaaaa:full".into(),
                    "net_bbbbbbbbbbbbbbbbbbbb:read-only".into(),
                ],
            ),
        ],
    }
}

fn context(now: i64) -> ResponseContext<'static> {
    ResponseContext {
        issuer: "https://globex-acme.example.com",
        audience: "https://app.example.com/saml",
        acs_url: "https://app.example.com/saml/acs",
        in_response_to: Some("_request1"),
        now,
        encrypt_for: None,
    }
}

/// Run `f` on `threads` threads for `duration`; operations per second.
fn rate(threads: usize, duration: Duration, f: Arc<dyn Fn() + Send + Sync>) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed() < duration {
                    f();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let duration = if measuring {
        let secs = std::env::var("DURATION")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(5.0);
        Duration::from_secs_f64(secs)
    } else {
        Duration::from_millis(250)
    };
    let (key, cert) = key_and_cert();
    let subject = Arc::new(subject());
    let now = 1_800_000_000;

    // Every response verifies with the certificate (both signatures).
    let xml = signed_response(&context(now), &subject, &key, &cert).expect("response");
    let der = CertificateDer::from(cert.clone());
    Crypto::verify_signed_xml(xml.as_bytes(), &der, Some("ID")).expect("response signature");
    let a = xml.find("<saml:Assertion").expect("assertion");
    let b = xml.find("</saml:Assertion>").expect("assertion end") + "</saml:Assertion>".len();
    Crypto::verify_signed_xml(&xml.as_bytes()[a..b], &der, Some("ID")).expect("assertion");

    println!(
        "== tenantry SAML signing benchmark: {:.1} s per phase, {} cores, {} build, {} bytes per response",
        duration.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if cfg!(debug_assertions) { "DEBUG" } else { "release" },
        xml.len()
    );

    let pkey = Arc::new(openssl::pkey::PKey::private_key_from_der(&key).expect("key"));
    let raw = {
        let pkey = pkey.clone();
        rate(
            1,
            duration,
            Arc::new(move || {
                let mut s =
                    openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey)
                        .expect("signer");
                std::hint::black_box(s.sign_oneshot_to_vec(b"signed info").expect("sign"));
            }),
        )
    };
    println!("baseline: raw RSA-2048 SHA-256 signatures/s, 1 thread (OpenSSL): {raw:.0}");
    println!(
        "ceiling:  responses/s at two signatures each, 1 thread: {:.0}",
        raw / 2.0
    );

    let sign = {
        let (key, cert, subject) = (key.clone(), cert.clone(), subject.clone());
        Arc::new(move || {
            std::hint::black_box(
                signed_response(&context(now), &subject, &key, &cert).expect("response"),
            );
        })
    };
    let one = rate(1, duration, sign.clone());
    println!(
        "responses signed/s, 1 thread:  {one:.0}  ({:.2} x the raw signature rate; {:.0}% of the ceiling)",
        one / raw,
        100.0 * one / (raw / 2.0)
    );
    let two = rate(2, duration, sign);
    println!(
        "responses signed/s, 2 threads: {two:.0}  ({:.2} x the raw 1-thread signature rate)",
        two / raw
    );

    // The former path: samael's sign_xml parses the document and decodes the key for
    // each of the two signatures (the same document, signed twice, for the cost only).
    let tpl = legacy_template(&cert);
    let legacy = {
        let key = key.clone();
        rate(
            1,
            duration,
            Arc::new(move || {
                for _ in 0..2 {
                    std::hint::black_box(Crypto::sign_xml(&tpl, &key).expect("sign_xml"));
                }
            }),
        )
    };
    println!(
        "former path (samael sign_xml x2, key decoded per signature), 1 thread: {legacy:.0}/s  ({:.2} x raw)",
        legacy / raw
    );
    if measuring {
        println!(
            "target >= 1000 responses/s: {}",
            if two >= 1000.0 { "met" } else { "NOT met" }
        );
    }
}

/// A Response-sized document with an empty signature template, for the former path.
fn legacy_template(cert: &[u8]) -> String {
    use base64::Engine;
    let cert = base64::engine::general_purpose::STANDARD.encode(cert);
    let values: String = (0..6)
        .map(|i| {
            format!("<saml:AttributeValue>value number {i} of the statement</saml:AttributeValue>")
        })
        .collect();
    format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r1\" Version=\"2.0\">\
<saml:Issuer>https://globex-acme.example.com</saml:Issuer>\
<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
<ds:Reference URI=\"#_r1\"><ds:Transforms>\
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>\
</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>\
<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
</ds:Signature><saml:AttributeStatement><saml:Attribute Name=\"a\">{values}</saml:Attribute></saml:AttributeStatement></samlp:Response>"
    )
}
