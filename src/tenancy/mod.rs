//! Host header -> tenant: pure name rules in `names`, a cached lookup here, and the
//! `CurrentTenant` extractor used by every tenant route.
//!
//! The request's host is looked up whole (never split apart) among the tenant names. The
//! cache holds every tenant; it re-checks a fingerprint of the database (the global
//! tenants version plus the sum of per-tenant versions, both of which only grow) at most
//! every 5 s, and at once after a change made by this process (decisions.md, Foundation).

pub mod names;

use crate::clock::SharedClock;
use crate::error::Result;
use crate::ids::TenantId;
use crate::store::{self, Store};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use names::{classify_host, HostKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantKind {
    Msp,
    Customer,
    Standalone,
}

impl TenantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantKind::Msp => "msp",
            TenantKind::Customer => "customer",
            TenantKind::Standalone => "standalone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "msp" => Some(TenantKind::Msp),
            "customer" => Some(TenantKind::Customer),
            "standalone" => Some(TenantKind::Standalone),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    /// The canonical name: the full label (`globex-acme`).
    pub name: String,
    pub kind: TenantKind,
    pub msp_id: Option<TenantId>,
    pub display_name: String,
    pub version: i64,
    pub created_at: i64,
}

impl Tenant {
    pub fn from_row(row: store::tenants::TenantRow) -> Option<Tenant> {
        Some(Tenant {
            id: TenantId(row.id),
            kind: TenantKind::parse(&row.kind)?,
            name: row.name,
            msp_id: row.msp_id.map(TenantId),
            display_name: row.display_name,
            version: row.version,
            created_at: row.created_at,
        })
    }
}

/// How often the cache asks the database whether tenants changed.
pub const RECHECK_SECONDS: i64 = 5;

#[derive(Default)]
struct Snapshot {
    by_name: HashMap<String, Arc<Tenant>>,
    fingerprint: (i64, i64),
    checked_at: i64,
    loaded: bool,
}

pub struct TenantCache {
    store: Store,
    clock: SharedClock,
    /// Read on every request: a load takes no lock and writes no shared counter.
    snapshot: ArcSwap<Snapshot>,
    refresh: tokio::sync::Mutex<()>,
    dirty: AtomicBool,
}

impl TenantCache {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        TenantCache {
            store,
            clock,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            refresh: tokio::sync::Mutex::new(()),
            dirty: AtomicBool::new(true),
        }
    }

    /// Forget what is cached; the next lookup re-reads. Called after this process changes
    /// a tenant.
    pub fn invalidate(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    fn needs_check(&self, snap: &Snapshot) -> bool {
        !snap.loaded
            || self.dirty.load(Ordering::SeqCst)
            || self.clock.now() - snap.checked_at >= RECHECK_SECONDS
    }

    /// The tenant with this canonical name from the current snapshot, without waiting:
    /// `None` when the snapshot is due a check (then `by_name` is the way).
    pub fn by_name_now(&self, name: &str) -> Option<Option<Arc<Tenant>>> {
        let snap = self.snapshot.load();
        if self.needs_check(&snap) {
            return None;
        }
        Some(snap.by_name.get(name).cloned())
    }

    /// The tenant with this canonical name, if any.
    pub async fn by_name(&self, name: &str) -> Result<Option<Arc<Tenant>>> {
        let mut snap = self.current();
        if self.needs_check(&snap) {
            self.refresh().await?;
            snap = self.current();
        }
        Ok(snap.by_name.get(name).cloned())
    }

    /// The tenant with this id, if any.
    pub async fn by_id(&self, id: &TenantId) -> Result<Option<Arc<Tenant>>> {
        let mut snap = self.current();
        if self.needs_check(&snap) {
            self.refresh().await?;
            snap = self.current();
        }
        Ok(snap.by_name.values().find(|t| &t.id == id).cloned())
    }

    async fn refresh(&self) -> Result<()> {
        let _guard = self.refresh.lock().await;
        let old = self.current();
        if !self.needs_check(&old) {
            return Ok(()); // another request refreshed while we waited
        }
        let was_dirty = self.dirty.swap(false, Ordering::SeqCst);
        let now = self.clock.now();
        let fingerprint = store::tenants::fingerprint(self.store.pool()).await?;
        let next = if old.loaded && !was_dirty && fingerprint == old.fingerprint {
            Snapshot {
                by_name: old.by_name.clone(),
                fingerprint,
                checked_at: now,
                loaded: true,
            }
        } else {
            let rows = store::tenants::all(self.store.pool()).await?;
            let by_name = rows
                .into_iter()
                .filter_map(Tenant::from_row)
                .map(|t| (t.name.clone(), Arc::new(t)))
                .collect();
            Snapshot {
                by_name,
                fingerprint,
                checked_at: now,
                loaded: true,
            }
        };
        self.snapshot.store(Arc::new(next));
        Ok(())
    }
}
