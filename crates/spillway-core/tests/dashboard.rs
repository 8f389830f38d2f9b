//! The Grafana dashboard in `examples/grafana/` charts what spillway measures: every query
//! names only series that exist, and every series is charted.

use spillway_core::metrics;
use std::collections::BTreeSet;

fn dashboard() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/grafana/spillway-dashboard.json"
    );
    let text = std::fs::read_to_string(path).expect("read the dashboard");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// The `spillway_*` names a PromQL expression uses.
fn series_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("spillway_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn every_query_names_a_series_spillway_exports_and_every_series_is_charted() {
    let dashboard = dashboard();
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    let known: BTreeSet<&str> = metrics::ALL.iter().copied().collect();
    let mut charted = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            let names = series_in(expr);
            assert!(!names.is_empty(), "{title:?}: {expr} names no series");
            for name in names {
                // A histogram is queried through its _bucket, _sum and _count series.
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|b| *b == metrics::LAG))
                    .unwrap_or(&name);
                assert!(
                    known.contains(base),
                    "{title:?} queries {name}, which spillway does not export"
                );
                charted.insert(base.to_string());
            }
        }
    }
    for name in metrics::ALL {
        assert!(charted.contains(*name), "no panel charts {name}");
    }
    // The connector variable lists connectors from a series that exists.
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let connector = variables
        .iter()
        .find(|v| v["name"] == "connector")
        .expect("a connector variable");
    for name in series_in(connector["definition"].as_str().expect("definition")) {
        assert!(known.contains(name.as_str()), "variable uses {name}");
    }
}
