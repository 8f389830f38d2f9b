//! Times each fuzz target over its corpus, and names the slowest inputs: a target that
//! runs slowly under libFuzzer usually has a few inputs that cost milliseconds each.
//!
//!     cargo run --release -p spillway-fuzz --example timing [TARGET]
fn main() {
    let only = std::env::args().nth(1);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (name, f) in spillway_fuzz::TARGETS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let mut slowest = Vec::new();
        let mut total = std::time::Duration::ZERO;
        let mut n = 0;
        for entry in std::fs::read_dir(dir.join(name)).expect("a corpus") {
            let path = entry.expect("an entry").path();
            let data = std::fs::read(&path).expect("a file");
            let t = std::time::Instant::now();
            f(&data);
            let took = t.elapsed();
            total += took;
            n += 1;
            slowest.push((took, path));
        }
        slowest.sort();
        println!("{name}: {n} inputs, {:?} each on average", total / n.max(1));
        for (took, path) in slowest.iter().rev().take(3) {
            println!("  {took:?} {}", path.display());
        }
    }
}
