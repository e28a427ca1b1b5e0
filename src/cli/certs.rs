//! `tenantry certs dev`: a development CA and a wildcard server certificate for
//! `*.{base}` and the bare base host, made with rcgen. Private keys are written 0600 and
//! git-ignored.

use super::print_json;
use crate::config::Config;
use crate::error::{Error, Result};
use clap::Subcommand;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Write certs/ca.pem, certs/tls.pem and their keys.
    Dev {
        /// Output directory. Re-run after adding tenants when the base domain has one label.
        #[arg(long, default_value = "certs")]
        out: PathBuf,
    },
}

fn rc(e: rcgen::Error) -> Error {
    Error::internal(format!("certificate generation: {e}"))
}

fn write(path: &Path, text: &str, private: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if private {
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))
}

/// `tenant_names`: every existing tenant, named beside the wildcard because TLS clients
/// (browsers, rustls) refuse a wildcard directly under a one-label domain like `localhost`.
pub fn run(config: &Config, cmd: CertsCommand, tenant_names: Vec<String>) -> Result<()> {
    let CertsCommand::Dev { out } = cmd;
    let base = config.public_url_or_default().host;
    std::fs::create_dir_all(&out)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", out.display())))?;
    let now = time::OffsetDateTime::now_utc();

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tenantry development CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - time::Duration::days(1);
    ca_params.not_after = now + time::Duration::days(825);
    let ca_key = KeyPair::generate().map_err(rc)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(rc)?;

    let mut names = vec![format!("*.{base}"), base.clone()];
    names.extend(tenant_names.iter().map(|t| format!("{t}.{base}")));
    let mut leaf = CertificateParams::new(names.clone()).map_err(rc)?;
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::V4(
            std::net::Ipv4Addr::LOCALHOST,
        )));
    leaf.distinguished_name
        .push(DnType::CommonName, format!("*.{base}"));
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(397);
    let leaf_key = KeyPair::generate().map_err(rc)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(rc)?;

    let ca_pem = out.join("ca.pem");
    let cert_pem = out.join("tls.pem");
    let key_pem = out.join("tls-key.pem");
    let ca_key_pem = out.join("ca-key.pem");
    write(&ca_pem, &ca_cert.pem(), false)?;
    write(&ca_key_pem, &issuer.key().serialize_pem(), true)?;
    write(
        &cert_pem,
        &format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        false,
    )?;
    write(&key_pem, &leaf_key.serialize_pem(), true)?;
    print_json(&serde_json::json!({
        "ca": ca_pem,
        "ca_key": ca_key_pem,
        "cert": cert_pem,
        "key": key_pem,
        "names": names,
        "not_after": crate::clock::rfc3339(leaf.not_after.unix_timestamp()),
    }));
    Ok(())
}
