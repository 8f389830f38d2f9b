//! Named results of the checks a source runs against its server before capture: the same
//! list fails a start (at its first failed check) and is printed by `spillway check`.

use std::fmt;

/// The first `shown` names, then `, ...` when there are more.
fn listed(names: &[String], shown: usize) -> String {
    let mut text = names[..names.len().min(shown)].join(", ");
    if names.len() > shown {
        text.push_str(", ...");
    }
    text
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    /// As capture needs it.
    Passed,
    /// Capture works, but something deserves attention.
    Warning,
    /// Capture cannot start (or would lose changes) until it is fixed.
    Failed,
}

impl CheckStatus {
    /// `passed`, `warning`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Warning => "warning",
            CheckStatus::Failed => "failed",
        }
    }
}

/// One check: what was checked, how it came out, what was found, and what fixes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// A short name: `wal_level`, `replication privilege`, `replica identity of public.t`.
    pub name: String,
    pub status: CheckStatus,
    /// What was found, as a sentence.
    pub detail: String,
    /// What to do about a warning or a failure.
    pub hint: Option<String>,
}

impl Check {
    pub fn passed(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Passed,
            detail: detail.into(),
            hint: None,
        }
    }

    pub fn warning(
        name: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Warning,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn failed(
        name: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Failed,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }

    /// The `captured tables` check: passed naming the tables the include lists select (the
    /// first ten), or failed with `failure` (what the lists are) and a hint naming the tables
    /// that exist (the first thirty) followed by `pattern_hint`, or `no_tables_hint` when
    /// there are none.
    pub fn captured_tables(
        selected: &[String],
        existing: &[String],
        failure: String,
        no_tables_hint: &str,
        pattern_hint: &str,
    ) -> Self {
        const NAME: &str = "captured tables";
        if !selected.is_empty() {
            return Check::passed(
                NAME,
                format!(
                    "{} table{} captured: {}",
                    selected.len(),
                    if selected.len() == 1 { "" } else { "s" },
                    listed(selected, 10)
                ),
            );
        }
        let hint = if existing.is_empty() {
            no_tables_hint.to_string()
        } else {
            format!(
                "tables that exist: {}; {pattern_hint}",
                listed(existing, 30)
            )
        };
        Check::failed(NAME, failure, hint)
    }

    /// The `column types` check: passed, or failed with every unsupported column found
    /// (`problems`, one message per table) and how to leave them out.
    pub fn column_types(problems: &[String]) -> Self {
        const NAME: &str = "column types";
        if problems.is_empty() {
            Check::passed(
                NAME,
                "every column of the captured tables has a supported type",
            )
        } else {
            Check::failed(
                NAME,
                problems.join("; "),
                "exclude the columns (column.exclude.list) or the tables (table.exclude.list)",
            )
        }
    }

    /// A failed check from an error whose text is `message` or `message\nhint: hint`
    /// (the form of the sources' preflight errors); `hint` is used when the text has none.
    pub fn from_error(name: impl Into<String>, error: &dyn fmt::Display, hint: &str) -> Self {
        let text = error.to_string();
        let (detail, found) = match text.split_once("\nhint: ") {
            Some((detail, hint)) => (detail.to_string(), Some(hint.to_string())),
            None => (text, None),
        };
        Check {
            name: name.into(),
            status: CheckStatus::Failed,
            detail,
            hint: Some(found.unwrap_or_else(|| hint.to_string())),
        }
    }

    pub fn is_failed(&self) -> bool {
        self.status == CheckStatus::Failed
    }
}

/// The first failed check of a list, if any.
pub fn first_failure(checks: &[Check]) -> Option<&Check> {
    checks.iter().find(|c| c.is_failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_errors_hint_line_becomes_the_checks_hint() {
        let c = Check::from_error("connect", &"no route\nhint: check the host", "other");
        assert_eq!(c.detail, "no route");
        assert_eq!(c.hint.as_deref(), Some("check the host"));
        let c = Check::from_error("connect", &"refused", "start the server");
        assert_eq!(c.detail, "refused");
        assert_eq!(c.hint.as_deref(), Some("start the server"));
        assert!(c.is_failed());
    }

    #[test]
    fn the_first_failure_is_found_past_warnings() {
        let checks = [
            Check::passed("a", "fine"),
            Check::warning("b", "hmm", "look"),
            Check::failed("c", "broken", "fix"),
            Check::failed("d", "also broken", "fix"),
        ];
        assert_eq!(first_failure(&checks).map(|c| c.name.as_str()), Some("c"));
        assert!(first_failure(&checks[..2]).is_none());
    }
}
