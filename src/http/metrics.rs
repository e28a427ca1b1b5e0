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

#[derive(Default)]
struct Inner {
    routes: std::collections::HashMap<String, RouteStats>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Count one request; allocates only the first time a route is seen.
    pub fn record(&self, route: &str, status: u16, tenant_kind: &'static str, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if !inner.routes.contains_key(route) {
            inner
                .routes
                .insert(route.to_string(), RouteStats::default());
        }
        let Some(r) = inner.routes.get_mut(route) else {
            return;
        };
        *r.by_status.entry((status, tenant_kind)).or_default() += 1;
        let h = &mut r.latency;
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

    /// The exposition text; `pool` is (open connections, idle connections, max).
    pub fn render(&self, pool: (u32, usize, u32)) -> String {
        let inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
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
