//! Include and exclude lists, matched the way Debezium matches them: comma-separated
//! regular expressions, each anchored to the whole name.

use regex::Regex;

/// One include or exclude list.
#[derive(Clone, Debug, Default)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl NameFilter {
    /// Builds a filter; an empty include list includes everything.
    pub fn new(include: Vec<Regex>, exclude: Vec<Regex>) -> Self {
        NameFilter { include, exclude }
    }

    /// Whether `name` passes the filter.
    pub fn matches(&self, name: &str) -> bool {
        let included = self.include.is_empty() || self.include.iter().any(|r| r.is_match(name));
        included && !self.exclude.iter().any(|r| r.is_match(name))
    }

    /// The index of the first include pattern matching `name` (`usize::MAX` if none), so
    /// that things can be ordered as the include list names them.
    pub fn include_rank(&self, name: &str) -> usize {
        self.include
            .iter()
            .position(|r| r.is_match(name))
            .unwrap_or(usize::MAX)
    }

    /// Whether an include list was given.
    pub fn has_include(&self) -> bool {
        !self.include.is_empty()
    }

    /// Whether either list was given.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// Compiles one comma-separated list entry into an anchored, case-insensitive regex.
pub fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("(?i)^(?:{pattern})$"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names_only() {
        let f = NameFilter::new(vec![anchored("public.orders").unwrap()], vec![]);
        assert!(f.matches("public.orders"));
        assert!(!f.matches("public.orders_archive"));
        assert!(!f.matches("xpublic.orders"));
    }

    #[test]
    fn exclude_wins_over_include() {
        let f = NameFilter::new(
            vec![anchored("public\\..*").unwrap()],
            vec![anchored("public.secret").unwrap()],
        );
        assert!(f.matches("public.a"));
        assert!(!f.matches("public.secret"));
    }
}
