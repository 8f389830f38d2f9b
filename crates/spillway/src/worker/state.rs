//! What the operator asked a connector to be ([`Target`]) and what it is doing
//! ([`Status`]).

/// What the operator asked a connector to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Running,
    Paused,
    Stopped,
}

impl Target {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Target::Running => "RUNNING",
            Target::Paused => "PAUSED",
            Target::Stopped => "STOPPED",
        }
    }

    pub(super) fn parse(s: &str) -> Target {
        match s.trim() {
            "PAUSED" => Target::Paused,
            "STOPPED" => Target::Stopped,
            _ => Target::Running,
        }
    }
}

/// What a connector is doing, as its status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// `RUNNING`, `PAUSED`, `STOPPED`, `FAILED` or `UNASSIGNED`.
    pub state: &'static str,
    /// Why it failed (`FAILED`), with what to do.
    pub trace: Option<String>,
    /// The transient failure it is retrying, while it retries.
    pub retrying: Option<String>,
}

impl Status {
    pub(super) fn new(state: &'static str) -> Status {
        Status {
            state,
            trace: None,
            retrying: None,
        }
    }
}
