//! Stamps the binary with the commit it was built from (`spillway --version`, `GET /`), or
//! `unknown` when built outside a git checkout.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SPILLWAY_COMMIT={commit}");
    // Rebuilt when HEAD moves (a checkout or a commit on the current branch).
    let git_dir = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    if let Some(dir) = git_dir {
        let dir = std::path::PathBuf::from(dir.trim());
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("refs/heads").display()
        );
    }
    println!("cargo:rerun-if-changed=build.rs");
}
