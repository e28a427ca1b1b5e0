//! Outgoing e-mail: enrolment links for new admins (product.md "Sign-in").
//!
//! By default each message is written as an RFC 5322 `.eml` file into `{data_dir}/outbox/`
//! (mode 0600, names sort by time) so a single machine needs no mail server; with
//! `smtp_url` set it is sent through SMTP (lettre, rustls). Messages go out after the
//! database transaction commits; a failure is logged and never undoes the caller's work.
//! Logs name the route template and the recipient's domain, never the link (it holds a
//! token); the outbox file holds the whole message, which is its point.
//!
//! lettre's types stay in this file; the rest of the crate sees [`Message`] and [`Mailer`].

use super::{Core, Error, Result};
use crate::tenancy::Tenant;
use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Tokio1Executor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The route template logged instead of an enrolment link.
pub const ENROLMENT_ROUTE: &str = "/enroll/{token}";

/// One plain-text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Where messages go.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    /// Write `.eml` files into this directory.
    Outbox(PathBuf),
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    /// No mailer configured (a `Core` built without one): messages are dropped, logged.
    Disabled,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.transport {
            Transport::Outbox(dir) => format!("outbox {}", dir.display()),
            Transport::Smtp(_) => "smtp".to_string(),
            Transport::Disabled => "disabled".to_string(),
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &kind)
            .finish()
    }
}

/// How a message left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Written to this outbox file.
    Outbox(PathBuf),
    Smtp,
    Dropped,
}

/// Check an `smtp_url` setting: `smtp://[user:pass@]host[:port][?tls=required|opportunistic]`
/// or `smtps://...`. The message never repeats the URL (it may hold a password).
pub fn check_smtp_url(s: &str) -> std::result::Result<(), String> {
    let u = url::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(u.scheme(), "smtp" | "smtps") {
        return Err(format!(
            "scheme must be smtp or smtps, not '{}'",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    for (k, v) in u.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("tls", "required" | "opportunistic") => {}
            ("tls", other) => {
                return Err(format!(
                    "tls must be required or opportunistic, not '{other}'"
                ))
            }
            ("ehlo", _) => {}
            (other, _) => return Err(format!("unknown parameter '{other}'")),
        }
    }
    AsyncSmtpTransport::<Tokio1Executor>::from_url(s).map_err(|e| format!("not usable ({e})"))?;
    Ok(())
}

/// `smtp://user:pass@host` without `tls=`: require STARTTLS rather than send the password
/// in the clear (lettre's plain `smtp://` means no TLS at all).
fn with_starttls_for_credentials(s: &str) -> String {
    let Ok(mut u) = url::Url::parse(s) else {
        return s.to_string();
    };
    let has_user = !u.username().is_empty() || u.password().is_some();
    let has_tls = u.query_pairs().any(|(k, _)| k == "tls");
    if u.scheme() == "smtp" && has_user && !has_tls {
        u.query_pairs_mut().append_pair("tls", "required");
    }
    u.to_string()
}

/// Check a `mail_from` setting: `addr@domain` or `Name <addr@domain>`.
pub fn check_mail_from(s: &str) -> std::result::Result<(), String> {
    s.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("'{s}' is not an e-mail address ({e})"))
}

impl Mailer {
    /// Write messages into `dir` (created, mode 0700, on first use).
    pub fn outbox(dir: PathBuf, from: &str) -> Result<Self> {
        Ok(Mailer {
            from: parse_from(from)?,
            transport: Transport::Outbox(dir),
        })
    }

    /// Send through SMTP; `url` as checked by [`check_smtp_url`]. Connects only when sending.
    pub fn smtp(url: &str, from: &str) -> Result<Self> {
        check_smtp_url(url).map_err(|p| Error::Internal(format!("smtp_url: {p}")))?;
        let url = with_starttls_for_credentials(url);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| Error::Internal(format!("smtp_url: {e}")))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        Ok(Mailer {
            from: parse_from(from)?,
            transport: Transport::Smtp(Box::new(transport)),
        })
    }

    /// From the settings: SMTP when `smtp_url` is set, else the outbox under `data_dir`.
    /// `mail_from` defaults to `tenantry@{base_domain}`.
    pub fn from_settings(
        data_dir: &Path,
        smtp_url: Option<&str>,
        mail_from: Option<&str>,
        base_domain: &str,
    ) -> Result<Self> {
        let from = match mail_from {
            Some(f) => f.to_string(),
            None => format!("tenantry@{base_domain}"),
        };
        match smtp_url {
            Some(url) => Mailer::smtp(url, &from),
            None => Mailer::outbox(data_dir.join("outbox"), &from),
        }
    }

    /// Drops every message (with a log line).
    pub fn disabled() -> Self {
        Mailer {
            from: "tenantry@localhost".parse().expect("a valid address"),
            transport: Transport::Disabled,
        }
    }

    /// The outbox directory, when messages are written there.
    pub fn outbox_dir(&self) -> Option<&Path> {
        match &self.transport {
            Transport::Outbox(dir) => Some(dir),
            _ => None,
        }
    }

    /// Deliver one message. Errors name no part of the message body.
    pub async fn send(&self, msg: &Message) -> Result<Delivery> {
        let to: Mailbox = msg
            .to
            .parse()
            .map_err(|e| Error::Internal(format!("cannot mail {}: {e}", domain_of(&msg.to))))?;
        let domain = self
            .from
            .email
            .domain()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let body = plain_body(&msg.body);
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", random_hex(16))))
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .map_err(|e| Error::Internal(format!("cannot build the message: {e}")))?;
        match &self.transport {
            Transport::Outbox(dir) => {
                let dir = dir.clone();
                let bytes = email.formatted();
                tokio::task::spawn_blocking(move || write_outbox(&dir, &bytes))
                    .await
                    .map_err(|e| Error::Internal(format!("outbox writer failed: {e}")))?
                    .map(Delivery::Outbox)
            }
            Transport::Smtp(t) => {
                t.send(email).await.map_err(|e| {
                    Error::Internal(format!("SMTP delivery failed: {}", redact_smtp(&e)))
                })?;
                Ok(Delivery::Smtp)
            }
            Transport::Disabled => Ok(Delivery::Dropped),
        }
    }
}

/// The text as it is (7bit, or 8bit when not ASCII), CRLF line endings, so the link stays
/// on one line, readable and copyable in the outbox file. lettre would pick
/// quoted-printable for lines over 76 characters (RFC 5322 allows 998), which breaks a
/// long link across lines. Odd input falls back to lettre's choice.
fn plain_body(text: &str) -> Body {
    use lettre::message::header::ContentTransferEncoding;
    let lines: Vec<&str> = text.lines().collect();
    let plain = lines
        .iter()
        .all(|l| l.len() <= 900 && !l.contains(['\r', '\0']));
    if !plain {
        return Body::new(text.to_string());
    }
    let mut crlf = lines.join("\r\n");
    crlf.push_str("\r\n");
    let encoding = if crlf.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
}

fn parse_from(from: &str) -> Result<Mailbox> {
    from.parse().map_err(|e| {
        Error::Internal(format!(
            "mail_from: '{from}' is not an e-mail address ({e})"
        ))
    })
}

/// lettre's error text, which carries no message content, only the server's reply.
fn redact_smtp(e: &lettre::transport::smtp::Error) -> String {
    e.to_string()
}

/// The part after `@`, for logs (never the local part, never the message).
pub fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map(|(_, d)| d).unwrap_or("?")
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A name that sorts by creation time and never collides:
/// `{UTC yyyymmddThhmmss.nnnnnnnnnZ}-{pid}-{sequence}-{random}.eml`.
fn outbox_name() -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:09}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond()
    );
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "{stamp}-{:08}-{seq:06}-{}.eml",
        std::process::id(),
        random_hex(4)
    )
}

/// Write the message to a hidden temporary file (mode 0600), then rename it into place, so
/// a reader of the outbox never sees half a message.
fn write_outbox(dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io = |what: &str, e: std::io::Error| {
        Error::Internal(format!("cannot {what} the outbox {}: {e}", dir.display()))
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io("create", e))?;
    let name = outbox_name();
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(&name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io("write into", e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("write into", e))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| io("write into", e))?;
    Ok(path)
}

/// The enrolment message (plain text, the link on a line of its own).
pub fn enrolment_message(
    tenant_display: &str,
    to: &str,
    url: &str,
    expires_at: &str,
    support_contact: Option<&str>,
) -> Message {
    let mut body = format!(
        "Hello,\n\n\
         You have been added as an administrator of {tenant_display}. To sign in, set up a\n\
         passkey by opening the link below:\n\n\
         {url}\n\n\
         The link works once and expires at {expires_at}.\n"
    );
    match support_contact {
        Some(c) => body.push_str(&format!(
            "\nQuestions, or did not expect this message? Contact {c}.\n"
        )),
        None => body.push_str("\nIf you did not expect this message, you can ignore it.\n"),
    }
    Message {
        to: to.to_string(),
        subject: format!("Set up your passkey for {tenant_display}"),
        body,
    }
}

impl Core {
    /// [`Core::send_enrolment`] for a just-created admin.
    pub async fn send_created_admin(&self, tenant: &Tenant, a: &super::admins::CreatedAdmin) {
        self.send_enrolment(tenant, &a.email, &a.enrolment_url, &a.enrolment_expires_at)
            .await;
    }

    /// Mail an enrolment link, after the transaction that issued it committed. Never
    /// fails: a problem is logged (the link is also shown by the CLI/API).
    pub async fn send_enrolment(&self, tenant: &Tenant, email: &str, url: &str, expires_at: &str) {
        let (display, support) = match self.store.conn().await {
            Ok(mut conn) => match super::settings::load(&mut conn, tenant).await {
                Ok((display, s)) => (display, s.branding.support_contact),
                Err(_) => (tenant.display_name.clone(), None),
            },
            Err(_) => (tenant.display_name.clone(), None),
        };
        let msg = enrolment_message(&display, email, url, expires_at, support.as_deref());
        let to_domain = domain_of(email);
        match self.mail.send(&msg).await {
            Ok(Delivery::Outbox(path)) => tracing::info!(
                tenant = %tenant.name,
                route = ENROLMENT_ROUTE,
                to_domain,
                file = %path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                "enrolment e-mail written to the outbox"
            ),
            Ok(Delivery::Smtp) => tracing::info!(
                tenant = %tenant.name,
                route = ENROLMENT_ROUTE,
                to_domain,
                "enrolment e-mail sent"
            ),
            Ok(Delivery::Dropped) => tracing::warn!(
                tenant = %tenant.name,
                route = ENROLMENT_ROUTE,
                to_domain,
                "no mailer configured: enrolment e-mail not sent"
            ),
            Err(e) => tracing::warn!(
                tenant = %tenant.name,
                route = ENROLMENT_ROUTE,
                to_domain,
                error = %e,
                "enrolment e-mail failed; the link is still valid"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(check_smtp_url("smtp://user:pass@mail.example.com:587").is_ok());
        assert!(check_smtp_url("smtps://mail.example.com").is_ok());
        assert!(check_smtp_url("smtp://mail.example.com?tls=required").is_ok());
        assert!(check_smtp_url("http://mail.example.com").is_err());
        assert!(check_smtp_url("smtp://").is_err());
        assert!(check_smtp_url("smtp://h?tls=maybe").is_err());
        assert!(check_mail_from("tenantry@localhost").is_ok());
        assert!(check_mail_from("Tenantry <tenantry@example.com>").is_ok());
        assert!(check_mail_from("nobody").is_err());
        assert_eq!(
            with_starttls_for_credentials("smtp://u:p@mail.example.com:587"),
            "smtp://u:p@mail.example.com:587?tls=required"
        );
        assert_eq!(
            with_starttls_for_credentials("smtp://mail.example.com:25"),
            "smtp://mail.example.com:25"
        );
        assert!(Mailer::smtp("smtp://u:p@mail.example.com:587", "a@example.com").is_ok());
    }

    #[tokio::test]
    async fn outbox_holds_the_whole_message() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let m = Mailer::outbox(dir.path().join("outbox"), "tenantry@example.com").unwrap();
        let url = format!("https://acme.example.com/enroll/tnt_enr_{}", "x".repeat(60));
        let msg = enrolment_message("Acmé", "a@b.example", &url, "2026-01-01T00:00:00Z", None);
        let Delivery::Outbox(path) = m.send(&msg).await.unwrap() else {
            panic!("not written to the outbox")
        };
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&url), "{text}");
        assert!(text.contains("To: a@b.example"), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = m.send(&msg).await.unwrap();
        let Delivery::Outbox(second) = second else {
            panic!()
        };
        assert!(second.file_name() > path.file_name());
    }
}
