//! Per-tenant settings (api.md `/settings`): login policy, branding, and whether
//! delegations need the customer's approval. Stored as JSON in `tenants.settings`;
//! PATCH is a JSON merge patch (RFC 7396) validated as a whole.

use super::audit::{self, Change};
use super::manage::OrgCall;
use super::{Core, Error, Result};
use crate::store::{self, tenants as rows, Conn};
use crate::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// New delegations start `pending` until a customer org-full admin approves.
    pub require_approval: bool,
    pub login: LoginPolicy,
    pub branding: Branding,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginPolicy {
    /// `passkey`, `federation` (federation only) or `any`.
    pub sign_in: String,
    pub lockout_threshold: u32,
    pub lockout_minutes: u32,
    pub session_idle_minutes: u32,
    pub session_absolute_hours: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub support_contact: Option<String>,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            sign_in: "any".into(),
            lockout_threshold: 5,
            lockout_minutes: 15,
            session_idle_minutes: 60,
            session_absolute_hours: 12,
        }
    }
}

impl Settings {
    fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str| {
            Err(Error::invalid("invalid_setting", format!("{field}: {why}")))
        };
        if !["passkey", "federation", "any"].contains(&self.login.sign_in.as_str()) {
            return bad("login.sign_in", "use passkey, federation or any");
        }
        if !(1..=100).contains(&self.login.lockout_threshold) {
            return bad("login.lockout_threshold", "between 1 and 100");
        }
        if !(1..=1440).contains(&self.login.lockout_minutes) {
            return bad("login.lockout_minutes", "between 1 and 1440");
        }
        if !(5..=1440).contains(&self.login.session_idle_minutes) {
            return bad("login.session_idle_minutes", "between 5 and 1440");
        }
        if !(1..=720).contains(&self.login.session_absolute_hours) {
            return bad("login.session_absolute_hours", "between 1 and 720");
        }
        if let Some(url) = &self.branding.logo_url {
            if !url.starts_with("https://") || url.len() > 2000 {
                return bad("branding.logo_url", "an https URL");
            }
        }
        if let Some(c) = &self.branding.primary_color {
            let ok =
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return bad("branding.primary_color", "a colour like #1a2b3c");
            }
        }
        if self
            .branding
            .support_contact
            .as_ref()
            .is_some_and(|s| s.len() > 200)
        {
            return bad("branding.support_contact", "at most 200 characters");
        }
        Ok(())
    }
}

/// RFC 7396: objects merge, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// The stored settings, defaults filled in.
pub async fn load(conn: &mut Conn, tenant: &Tenant) -> Result<(String, Settings)> {
    let (display, text) = rows::settings(conn, &tenant.id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((display, parse(&text)))
}

/// A stored settings document, defaults filled in.
pub fn parse(text: &str) -> Settings {
    serde_json::from_str(text).unwrap_or_default()
}

impl Core {
    /// GET /settings: org read-only and above.
    pub async fn api_settings(&self, call: &OrgCall) -> Result<Value> {
        if !call.can("org", "org.view") {
            return Err(Error::forbidden(
                "insufficient_privileges",
                "settings need org read-only access",
            ));
        }
        let mut conn = self.store.conn().await?;
        let (display, s) = load(&mut conn, &call.org).await?;
        Ok(view(&display, &s))
    }

    /// PATCH /settings: org full; `require_approval` only by org-full admins of the
    /// customer's own (privileges.md rule 10); existing delegations never change.
    pub async fn api_update_settings(&self, call: &OrgCall, patch: Value) -> Result<Value> {
        call.require_org_full("change settings")?;
        let Value::Object(mut patch) = patch else {
            return Err(Error::invalid(
                "invalid_json",
                "the body must be a JSON object",
            ));
        };
        let display = match patch.remove("display_name") {
            None => None,
            Some(Value::String(d))
                if !d.trim().is_empty() && d.len() <= 200 && !d.chars().any(char::is_control) =>
            {
                Some(d.trim().to_string())
            }
            Some(_) => {
                return Err(Error::invalid(
                    "invalid_display_name",
                    "the display name must be 1 to 200 printable characters",
                ))
            }
        };
        if patch.contains_key("require_approval") && !self.own_org_full(call) {
            return Err(Error::forbidden("customer_admin_required", "only the organization's own org-full admins decide whether delegations need approval"));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let (old_display, old) = load(&mut tx, &call.org).await?;
        let mut merged = serde_json::to_value(&old).unwrap_or_default();
        merge_patch(&mut merged, &Value::Object(patch));
        let new: Settings = serde_json::from_value(merged).map_err(|e| {
            let text = e.to_string();
            if text.starts_with("unknown field") {
                Error::invalid("unknown_field", text)
            } else {
                Error::invalid("invalid_setting", text)
            }
        })?;
        new.validate()?;
        let display = display.unwrap_or(old_display.clone());
        rows::set_settings(
            &mut tx,
            &call.org.id,
            &display,
            &serde_json::to_string(&new).unwrap_or_default(),
        )
        .await?;
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "settings.update",
                target: format!("tenant:{}", call.org.name),
                before: Some(view(&old_display, &old)),
                after: Some(view(&display, &new)),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(view(&display, &new))
    }

    /// Org full through the organization's own sources (own account or mapped role), never
    /// through the MSP: rule 10's customer admin.
    pub fn own_org_full(&self, call: &OrgCall) -> bool {
        call.principal.home.id == call.org.id && call.is_org_full()
    }
}

fn view(display: &str, s: &Settings) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    v["display_name"] = json!(display);
    v
}
