//! Blocking calls made from async code (a schema registry's HTTP request, waiting for a
//! Kafka acknowledgement inside a synchronous trait method).

/// Runs `f`, telling a multi-threaded Tokio runtime first so it moves its other tasks to
/// other threads meanwhile; elsewhere (no runtime, or a single-threaded one) just runs it.
pub fn run_blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
