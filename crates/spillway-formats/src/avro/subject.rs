//! Registry subject names: Confluent's `*.subject.name.strategy`.

/// How the registry subject of a schema is named (Confluent's `*.subject.name.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    #[default]
    Topic,
    /// The record's full name.
    Record,
    /// `<topic>-<record full name>`.
    TopicRecord,
}

impl SubjectNameStrategy {
    /// The strategy a Confluent class name stands for.
    pub fn from_class(class: &str) -> Option<Self> {
        let simple = class.rsplit('.').next().unwrap_or(class);
        match simple {
            "TopicNameStrategy" => Some(SubjectNameStrategy::Topic),
            "RecordNameStrategy" => Some(SubjectNameStrategy::Record),
            "TopicRecordNameStrategy" => Some(SubjectNameStrategy::TopicRecord),
            _ => None,
        }
    }

    pub(super) fn subject(self, topic: &str, is_key: bool, record_name: &str) -> String {
        match self {
            SubjectNameStrategy::Topic => {
                format!("{topic}-{}", if is_key { "key" } else { "value" })
            }
            SubjectNameStrategy::Record => record_name.to_string(),
            SubjectNameStrategy::TopicRecord => format!("{topic}-{record_name}"),
        }
    }
}
