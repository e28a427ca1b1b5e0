//! Prometheus text exposition of request counts and latency. Labels are route templates,
//! status codes and tenant kinds: never tenant names, hosts, tokens or e-mails.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<(u16, &'static str), u64>,
    latency: Histogram,
}

impl RouteStats {
    fn add(&mut self, status: u16, tenant_kind: &'static str, secs: f64) {
        *self.by_status.entry((status, tenant_kind)).or_default() += 1;
        let h = &mut self.latency;
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }
}

#[derive(Default)]
struct Inner {
    routes: std::collections::HashMap<String, RouteStats>,
}

impl Inner {
    fn record(&mut self, route: &str, status: u16, tenant_kind: &'static str, secs: f64) {
        // One lookup for a route seen before; the key is copied only the first time.
        if let Some(r) = self.routes.get_mut(route) {
            r.add(status, tenant_kind, secs);
            return;
        }
        self.routes
            .entry(route.to_string())
            .or_default()
            .add(status, tenant_kind, secs);
    }

    fn merge(&mut self, other: &Inner) {
        for (route, r) in &other.routes {
            let into = self.routes.entry(route.clone()).or_default();
            for (k, n) in &r.by_status {
                *into.by_status.entry(*k).or_default() += n;
            }
            let (h, o) = (&mut into.latency, &r.latency);
            if h.counts.len() < o.counts.len() {
                h.counts.resize(o.counts.len(), 0);
            }
            for (c, n) in h.counts.iter_mut().zip(&o.counts) {
                *c += n;
            }
            h.sum += o.sum;
            h.count += o.count;
        }
    }
}

/// One shard per worker thread (a thread keeps its shard for life), each on its own cache
/// line: a request takes a lock no other core is using, and its counters stay in that
/// core's cache. One shared lock made both workers trade the lock and the counters on
/// every request. `render` merges the shards.
const SHARDS: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<Inner>);

pub struct Metrics {
    shards: Box<[Shard]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

fn shard_index() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Metrics {
    /// Count one request; allocates only the first time a route is seen by this shard.
    pub fn record(&self, route: &str, status: u16, tenant_kind: &'static str, elapsed: Duration) {
        if let Some(shard) = self.shards.get(shard_index()) {
            lock(&shard.0).record(route, status, tenant_kind, elapsed.as_secs_f64());
        }
    }

    /// The exposition text; `pool` is (open connections, idle connections, max).
    pub fn render(&self, pool: (u32, usize, u32)) -> String {
        let mut inner = Inner::default();
        for shard in self.shards.iter() {
            inner.merge(&lock(&shard.0));
        }
        let mut out = String::new();
        out.push_str("# HELP tenantry_http_requests_total HTTP requests by route template, status and tenant kind.\n");
        out.push_str("# TYPE tenantry_http_requests_total counter\n");
        let mut routes: Vec<(&String, &RouteStats)> = inner.routes.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        for (route, r) in &routes {
            for ((status, kind), n) in &r.by_status {
                let _ = writeln!(
                    out,
                    "tenantry_http_requests_total{{route=\"{}\",status=\"{status}\",tenant_kind=\"{kind}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP tenantry_http_request_duration_seconds HTTP request latency by route template.\n");
        out.push_str("# TYPE tenantry_http_request_duration_seconds histogram\n");
        for (route, r) in &routes {
            let h = &r.latency;
            let e = escape(route);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "tenantry_http_request_duration_seconds_bucket{{route=\"{e}\",le=\"{b}\"}} {}",
                    h.counts.get(i).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(
                out,
                "tenantry_http_request_duration_seconds_bucket{{route=\"{e}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "tenantry_http_request_duration_seconds_sum{{route=\"{e}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "tenantry_http_request_duration_seconds_count{{route=\"{e}\"}} {}",
                h.count
            );
        }
        let (open, idle, max) = pool;
        out.push_str("# HELP tenantry_db_pool_connections Database pool connections by state.\n");
        out.push_str("# TYPE tenantry_db_pool_connections gauge\n");
        let _ = writeln!(out, "tenantry_db_pool_connections{{state=\"open\"}} {open}");
        let _ = writeln!(out, "tenantry_db_pool_connections{{state=\"idle\"}} {idle}");
        let _ = writeln!(
            out,
            "tenantry_db_pool_connections{{state=\"in_use\"}} {}",
            (open as usize).saturating_sub(idle)
        );
        out.push_str("# HELP tenantry_db_pool_max_connections Configured pool size.\n");
        out.push_str("# TYPE tenantry_db_pool_max_connections gauge\n");
        let _ = writeln!(out, "tenantry_db_pool_max_connections {max}");
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_sums_what_every_thread_recorded() {
        let m = std::sync::Arc::new(Metrics::default());
        let threads: Vec<_> = (0..20)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        m.record("/oauth2/token", 200, "customer", Duration::from_millis(2));
                    }
                    m.record("/healthz", 200 + (i % 2), "none", Duration::from_secs(20));
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let text = m.render((1, 1, 4));
        for line in [
            "tenantry_http_requests_total{route=\"/oauth2/token\",status=\"200\",tenant_kind=\"customer\"} 100",
            "tenantry_http_requests_total{route=\"/healthz\",status=\"200\",tenant_kind=\"none\"} 10",
            "tenantry_http_requests_total{route=\"/healthz\",status=\"201\",tenant_kind=\"none\"} 10",
            "tenantry_http_request_duration_seconds_bucket{route=\"/oauth2/token\",le=\"0.001\"} 0",
            "tenantry_http_request_duration_seconds_bucket{route=\"/oauth2/token\",le=\"0.0025\"} 100",
            "tenantry_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"10\"} 0",
            "tenantry_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 20",
            "tenantry_http_request_duration_seconds_count{route=\"/oauth2/token\"} 100",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        let sum = text
            .lines()
            .find(|l| {
                l.starts_with("tenantry_http_request_duration_seconds_sum{route=\"/oauth2/token\"}")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .expect("sum line");
        assert!((sum - 0.2).abs() < 1e-9, "sum {sum}");
    }
}
