//! Migrations are mirrored: the same numbers and names for SQLite and PostgreSQL.

use crate::support::test_app;
use std::path::Path;

fn names(dir: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    let mut v: Vec<String> = std::fs::read_dir(&path)
        .expect("migrations dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for (i, name) in sqlite.iter().enumerate() {
        let number: usize = name[..4].parse().expect("NNNN_ prefix");
        assert_eq!(
            number,
            i + 1,
            "numbers run 0001, 0002, ... without gaps: {name}"
        );
        assert!(name.ends_with(".sql"));
    }
}

#[tokio::test]
async fn every_migration_is_applied_on_start() {
    let app = test_app().await;
    let applied = app.core.store.applied_migrations().await.expect("applied");
    let files: Vec<String> = names("sqlite")
        .iter()
        .map(|n| n.trim_end_matches(".sql").to_string())
        .collect();
    let applied: Vec<String> = applied
        .iter()
        .map(|(v, d)| format!("{v:04}_{}", d.replace(' ', "_")))
        .collect();
    assert_eq!(applied, files);
    // Applying again is a no-op.
    app.core.store.migrate().await.expect("idempotent");
}
