//! The passkey sign-in's statements on SQLite's direct connections (store/direct.rs): the
//! same SQL constants as the pooled repository functions of passkeys.rs, sessions.rs and
//! audit.rs, with the same arguments in the same order, decoded into the same row types.

use super::audit::{EntryRow, ADVANCE_HEAD_FROM_SQL, INSERT_ENTRY_SQL};
use super::direct::{Direct, DirectTx, Val};
use super::passkeys::{
    CandidateRow, CeremonyRow, CLIENT_FAILURES_SQL, DELETE_CEREMONY_SQL, INSERT_CEREMONY_SQL,
    LOGIN_CANDIDATE_SQL, PEEK_CEREMONY_SQL, RECORD_USE_SQL, SWEEP_CEREMONIES_SQL,
    TAKE_CEREMONY_SQL,
};
use super::sessions::{SessionRow, INSERT_SQL as INSERT_SESSION_SQL};
use crate::error::{Error, Result};
use crate::ids::TenantId;

fn t(tenant: &TenantId) -> Val {
    Val::text(tenant.as_str())
}

fn text(v: &[Val], i: usize, column: &str) -> Result<String> {
    v.get(i)
        .cloned()
        .ok_or_else(|| Error::internal(format!("database: no column {column}")))?
        .into_text(column)
}

fn int(v: &[Val], i: usize) -> Option<i64> {
    v.get(i).and_then(Val::as_int)
}

fn opt_text(v: &[Val], i: usize) -> Option<String> {
    v.get(i).and_then(Val::as_str).map(str::to_string)
}

/// As [`super::passkeys::sweep_ceremonies`].
pub fn sweep_ceremonies(tx: &mut DirectTx<'_>, tenant: &TenantId, now: i64) -> Result<()> {
    tx.execute(SWEEP_CEREMONIES_SQL, &[t(tenant), Val::Int(now)])?;
    Ok(())
}

/// As [`super::passkeys::insert_ceremony`].
pub fn insert_ceremony(tx: &mut DirectTx<'_>, tenant: &TenantId, row: &CeremonyRow) -> Result<()> {
    tx.execute(
        INSERT_CEREMONY_SQL,
        &[
            t(tenant),
            Val::text(&row.id),
            Val::text(&row.kind),
            Val::opt_text(row.user_id.as_deref()),
            Val::opt_text(row.link_hash.as_deref()),
            Val::text(&row.state),
            Val::Int(row.expires_at),
            Val::Int(row.created_at),
        ],
    )?;
    Ok(())
}

/// As [`super::passkeys::take_ceremony`].
pub fn take_ceremony(
    tx: &mut DirectTx<'_>,
    tenant: &TenantId,
    id: &str,
    kind: &str,
) -> Result<Option<CeremonyRow>> {
    let Some(v) = tx.row(
        TAKE_CEREMONY_SQL,
        &[t(tenant), Val::text(id), Val::text(kind)],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(CeremonyRow {
        id: text(&v, 0, "id")?,
        kind: text(&v, 1, "kind")?,
        user_id: opt_text(&v, 2),
        link_hash: opt_text(&v, 3),
        state: text(&v, 4, "state")?,
        expires_at: int(&v, 5).unwrap_or(0),
        created_at: int(&v, 6).unwrap_or(0),
    }))
}

/// A ceremony (not bound to a link) as (state, expires_at), left in place.
pub fn peek_ceremony(
    d: &Direct,
    tenant: &TenantId,
    id: &str,
    kind: &str,
) -> Result<Option<(String, i64)>> {
    let Some(v) = d.read_row(
        PEEK_CEREMONY_SQL,
        &[t(tenant), Val::text(id), Val::text(kind)],
    )?
    else {
        return Ok(None);
    };
    Ok(Some((text(&v, 0, "state")?, int(&v, 1).unwrap_or(0))))
}

/// Delete a ceremony: true when this call removed it.
pub fn delete_ceremony(
    tx: &mut DirectTx<'_>,
    tenant: &TenantId,
    id: &str,
    kind: &str,
) -> Result<bool> {
    Ok(tx.execute(
        DELETE_CEREMONY_SQL,
        &[t(tenant), Val::text(id), Val::text(kind)],
    )? == 1)
}

/// As [`super::passkeys::login_candidate`].
pub fn login_candidate(
    d: &Direct,
    tenant: &TenantId,
    credential_id: &str,
) -> Result<Option<CandidateRow>> {
    let Some(v) = d.read_row(LOGIN_CANDIDATE_SQL, &[t(tenant), Val::text(credential_id)])? else {
        return Ok(None);
    };
    Ok(Some(CandidateRow {
        id: text(&v, 0, "id")?,
        user_id: text(&v, 1, "user_id")?,
        passkey: text(&v, 2, "passkey")?,
        status: text(&v, 3, "status")?,
        locked_until: int(&v, 4),
        has_failures: int(&v, 5).unwrap_or(1),
        settings: text(&v, 6, "settings")?,
    }))
}

/// As [`super::passkeys::client_failures`].
pub fn client_failures(
    d: &Direct,
    tenant: &TenantId,
    client: &str,
    now: i64,
    window: i64,
) -> Result<i64> {
    let row = d.read_row(
        CLIENT_FAILURES_SQL,
        &[t(tenant), Val::text(client), Val::Int(now - window)],
    )?;
    Ok(row.and_then(|v| int(&v, 0)).unwrap_or(0))
}

/// As [`super::passkeys::record_use`].
#[allow(clippy::too_many_arguments)]
pub fn record_use(
    tx: &mut DirectTx<'_>,
    tenant: &TenantId,
    id: &str,
    passkey: &str,
    counter: i64,
    backup_eligible: bool,
    backup_state: bool,
    now: i64,
) -> Result<bool> {
    let n = tx.execute(
        RECORD_USE_SQL,
        &[
            t(tenant),
            Val::text(id),
            Val::text(passkey),
            Val::Int(counter),
            Val::Int(super::flag(backup_eligible)),
            Val::Int(super::flag(backup_state)),
            Val::Int(now),
        ],
    )?;
    Ok(n == 1)
}

/// As [`super::sessions::insert`].
pub fn insert_session(
    tx: &mut DirectTx<'_>,
    tenant: &TenantId,
    row: &SessionRow,
    id_hash: &str,
) -> Result<()> {
    tx.execute(
        INSERT_SESSION_SQL,
        &[
            t(tenant),
            Val::text(&row.id),
            Val::text(id_hash),
            Val::text(&row.user_id),
            Val::text(&row.amr),
            Val::opt_text(row.act.as_deref()),
            Val::Int(row.created_at),
            Val::Int(row.last_seen_at),
            Val::Int(row.idle_expires_at),
            Val::Int(row.expires_at),
        ],
    )?;
    Ok(())
}

/// As [`super::audit::advance_head_from`] then [`super::audit::insert_entry_row`]: false
/// (nothing written) when the head moved since the caller saw it.
pub fn append_entry(
    tx: &mut DirectTx<'_>,
    tenant: &TenantId,
    prev_seq: i64,
    e: &EntryRow,
) -> Result<bool> {
    let moved = tx.execute(
        ADVANCE_HEAD_FROM_SQL,
        &[
            t(tenant),
            Val::Int(prev_seq),
            Val::text(&e.prev_hash),
            Val::text(&e.hash),
        ],
    )?;
    if moved != 1 {
        return Ok(false);
    }
    tx.execute(
        INSERT_ENTRY_SQL,
        &[
            t(tenant),
            Val::Int(e.seq),
            Val::Int(e.at),
            Val::text(&e.actor),
            Val::opt_text(e.actor_msp.as_deref()),
            Val::opt_text(e.actor_msp_user.as_deref()),
            Val::text(&e.action),
            Val::text(&e.target),
            Val::opt_text(e.before_state.as_deref()),
            Val::opt_text(e.after_state.as_deref()),
            Val::opt_text(e.request_id.as_deref()),
            Val::text(&e.prev_hash),
            Val::text(&e.hash),
        ],
    )?;
    Ok(true)
}
