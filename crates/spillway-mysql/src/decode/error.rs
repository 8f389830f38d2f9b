//! What goes wrong decoding a TABLE_MAP or rows event: [`RowsError`], and the [`Fault`]
//! a reader returns before it knows what it was reading; [`DecodeError`], for the other
//! events.

/// A TABLE_MAP or rows event that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    /// The bytes end before the structure does.
    #[error("the {what} is truncated")]
    Truncated { what: &'static str },
    /// The bytes cannot be what the format says.
    #[error("the {what} is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    /// A rows event this decoder refuses; `hint` names the server setting that avoids it.
    #[error("{name} events (type {event_type}) are not supported; {hint}")]
    UnsupportedEvent {
        event_type: u8,
        name: &'static str,
        hint: &'static str,
    },
    /// [`RowsEvent::decode`] was given another kind of event.
    #[error("event type {0} is not a rows event")]
    NotRowsEvent(u8),
    /// The rows event is for another table id than the table map given with it.
    #[error("the rows event is for table id {event} but the table map is for table id {map}")]
    TableId { event: u64, map: u64 },
    /// The rows event, its table map and the table's schema disagree on the column count.
    #[error("{table}: the binlog row has {binlog} columns but the table has {schema}; the table was altered after this change was written")]
    ColumnCount {
        table: String,
        binlog: usize,
        schema: usize,
    },
    /// One value could not be read, or the binlog's type for it does not fit the schema's.
    #[error("{table}, column {column}: {detail}")]
    Column {
        table: String,
        /// The column's position in the table, from 0.
        index: usize,
        /// The column's name, or `@n` (from 1) when the server did not send names.
        column: String,
        detail: String,
    },
}

/// Why reading failed, before it is put in context.
#[derive(Debug)]
pub(crate) enum Fault {
    Truncated,
    Invalid(String),
    /// The binlog's column type does not fit the schema's.
    Mismatch,
}

impl Fault {
    pub(crate) fn invalid(detail: impl Into<String>) -> Fault {
        Fault::Invalid(detail.into())
    }

    pub(crate) fn at(self, what: &'static str) -> RowsError {
        match self {
            Fault::Truncated => RowsError::Truncated { what },
            Fault::Invalid(detail) => RowsError::Malformed { what, detail },
            Fault::Mismatch => RowsError::Malformed {
                what,
                detail: "a column type does not fit".to_string(),
            },
        }
    }
}

/// Error from decoding a binlog event other than TABLE_MAP and rows events. Offsets count
/// from the start of the slice given to the decoder (the event body, or the whole event for
/// [`EventHeader::decode`](super::event::EventHeader::decode)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "{event}: {field} needs {needed} bytes at offset {offset}, but only {available} remain"
    )]
    Truncated {
        event: &'static str,
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("{event}: {field} at offset {offset} is invalid: {reason}")]
    Invalid {
        event: &'static str,
        field: &'static str,
        offset: usize,
        reason: String,
    },
    #[error(
        "the binlog is encrypted (START_ENCRYPTION_EVENT not marked ignorable, so the events \
         after it are ciphertext); binlog encryption is not supported here: set \
         encrypt_binlog=OFF, or read through the server's replication stream, which decrypts \
         for its replicas"
    )]
    EncryptedBinlog,
}
