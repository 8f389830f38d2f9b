//! Failpoints for crash tests: `SPILLWAY_FAILPOINT=<point>[:N]` stops the process with
//! SIGKILL, as `kill -9` would, at the N-th pass (default the first) of that point, so that
//! a test reaches windows timing alone cannot hit. The points: `log-after-write`,
//! `log-after-sync`, `log-after-journal` (a group commit's steps, in the writer) and
//! `compaction-before-rename`, `compaction-after-rename` (in the cleaner).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the armed failpoint.
pub const FAILPOINT_ENV: &str = "SPILLWAY_FAILPOINT";

/// Stops the process here if [`FAILPOINT_ENV`] names `point` and this is its N-th pass.
pub(crate) fn failpoint(point: &str) {
    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static PASSES: AtomicU64 = AtomicU64::new(0);
    let armed = ARMED.get_or_init(|| {
        let value = std::env::var(FAILPOINT_ENV).ok()?;
        match value.split_once(':') {
            Some((name, n)) => Some((name.to_string(), n.parse().ok()?)),
            None => Some((value, 1)),
        }
    });
    if let Some((name, nth)) = armed {
        if name == point && PASSES.fetch_add(1, Ordering::SeqCst) + 1 >= *nth {
            eprintln!("failpoint {point}: stopping the process");
            // SAFETY: signalling our own process.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
