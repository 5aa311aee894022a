//! The shared backend conformance suite, run against the SQLite backend with a fresh data
//! directory per test.

use tessera_backend::Timing;
use tessera_backend_sqlite::SqliteBackend;

/// Short timings; lease_ms > heartbeat_ttl_ms as the suite requires.
const TIMING: Timing = Timing { lease_ms: 10_000, heartbeat_ttl_ms: 3_000 };

tessera_backend::backend_conformance_tests!(|| async {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = SqliteBackend::open(dir.path(), TIMING).expect("open backend");
    (backend, dir)
});
