//! The app for in-process benchmarks: opened as tests/it/support.rs does, but on the
//! system clock, SQLite in a temp dir (`synchronous=NORMAL`, the default), and a real
//! listener on 127.0.0.1 served by `app::serve` until `shutdown` fires.

use std::net::SocketAddr;
use std::sync::Arc;
use tenantry::app::{self, AppState};
use tenantry::clock::{SharedClock, SystemClock};
use tenantry::config::{Config, Database, PublicUrl, RawSettings, SqliteSynchronous};
use tenantry::core::Core;

pub struct Server {
    pub core: Core,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

pub async fn start_server(shutdown: tokio::sync::oneshot::Receiver<()>) -> Server {
    let dir = tempfile::tempdir().expect("temp data dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let config = temp_config(dir.path());
    assert!(
        matches!(config.database, Database::Sqlite(_)),
        "the bench runs on SQLite"
    );
    assert_eq!(config.sqlite_synchronous, SqliteSynchronous::Normal);
    let public = PublicUrl::parse(&format!("http://localhost:{}", addr.port())).expect("url");
    let clock: SharedClock = Arc::new(SystemClock);
    let core = app::open(&config, public, clock).await.expect("open core");
    let state = AppState::new(core.clone());
    tokio::spawn(async move {
        app::serve(listener, state, async {
            let _ = shutdown.await;
        })
        .await
        .expect("serve");
    });
    Server {
        core,
        addr,
        _dir: dir,
    }
}

/// The configuration of a bench: SQLite in `dir`, a fresh random master key.
pub fn temp_config(dir: &std::path::Path) -> Config {
    let mut key = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut key[..]);
    Config::load(RawSettings {
        data_dir: Some(dir.display().to_string()),
        master_key: Some(hex::encode(key)),
        ..RawSettings::default()
    })
    .expect("bench config")
}
