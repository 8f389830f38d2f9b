//! The pgoutput (protocol version 1) logical messages: one type per message kind and
//! [`LogicalMessage`] over all of them. Decoding is in `decode.rs`.

use bytes::Bytes;

use super::tuple::TupleData;

/// `B`: a transaction starts. Changes follow, then a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The LSN of the transaction's commit record.
    pub final_lsn: u64,
    /// Commit time, microseconds since 2000-01-01.
    pub commit_time_us: i64,
    /// Transaction id.
    pub xid: u32,
}

/// `C`: a transaction ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Currently always 0.
    pub flags: u8,
    /// The LSN of the commit record.
    pub commit_lsn: u64,
    /// The end LSN of the transaction: confirm this to the server once the transaction is
    /// durable downstream.
    pub end_lsn: u64,
    /// Commit time, microseconds since 2000-01-01.
    pub commit_time_us: i64,
}

/// `O`: the transaction originated on another node (replication origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The LSN of the commit on the origin server.
    pub commit_lsn: u64,
    /// Name of the origin.
    pub name: String,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Bit 1 ([`RelationColumn::FLAG_KEY`]): part of the replica identity key.
    pub flags: u8,
    /// Column name.
    pub name: String,
    /// OID of the column's data type.
    pub type_oid: u32,
    /// Type modifier (`atttypmod`), -1 if none.
    pub type_modifier: i32,
}

impl RelationColumn {
    /// The column is part of the key.
    pub const FLAG_KEY: u8 = 1;

    /// Whether the column is part of the replica identity key.
    pub fn is_key(&self) -> bool {
        self.flags & Self::FLAG_KEY != 0
    }
}

/// `R`: describes a table. Sent before the first change to the table in a session and
/// again after its definition changed; tuples of that relation refer to it by `oid` and
/// list values in the order of `columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Relation OID.
    pub oid: u32,
    /// Schema name; empty for `pg_catalog`.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// `relreplident`: see the `REPLICA_IDENTITY_*` constants.
    pub replica_identity: u8,
    /// Columns in tuple order (dropped and generated columns are not sent).
    pub columns: Vec<RelationColumn>,
}

impl Relation {
    /// Replica identity: primary key (default).
    pub const REPLICA_IDENTITY_DEFAULT: u8 = b'd';
    /// Replica identity: nothing.
    pub const REPLICA_IDENTITY_NOTHING: u8 = b'n';
    /// Replica identity: all columns.
    pub const REPLICA_IDENTITY_FULL: u8 = b'f';
    /// Replica identity: a unique index.
    pub const REPLICA_IDENTITY_INDEX: u8 = b'i';
}

/// `Y`: describes a data type that is not built in, before the first [`Relation`] using
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMessage {
    /// Type OID.
    pub oid: u32,
    /// Schema name; empty for `pg_catalog`.
    pub namespace: String,
    /// Type name.
    pub name: String,
}

/// `I`: a row was inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// OID of the [`Relation`].
    pub relation: u32,
    /// The new row.
    pub new: TupleData,
}

/// Old-tuple kind: only the replica identity key columns are set, others are null.
pub const OLD_KIND_KEY: u8 = b'K';
/// Old-tuple kind: the whole old row (replica identity full).
pub const OLD_KIND_FULL: u8 = b'O';

/// `U`: a row was updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// OID of the [`Relation`].
    pub relation: u32,
    /// [`OLD_KIND_KEY`] or [`OLD_KIND_FULL`] when `old` is present. With the default
    /// replica identity, the old key is sent only if the key changed.
    pub old_kind: Option<u8>,
    /// The old row or its key.
    pub old: Option<TupleData>,
    /// The new row; unchanged TOASTed columns are [`TupleValue::UnchangedToast`](super::TupleValue::UnchangedToast).
    pub new: TupleData,
}

/// `D`: a row was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// OID of the [`Relation`].
    pub relation: u32,
    /// [`OLD_KIND_KEY`] or [`OLD_KIND_FULL`].
    pub old_kind: u8,
    /// The old row or its key.
    pub old: TupleData,
}

/// `T`: tables were truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Bit set of [`Truncate::CASCADE`] and [`Truncate::RESTART_IDENTITY`].
    pub options: u8,
    /// OIDs of the truncated relations.
    pub relations: Vec<u32>,
}

impl Truncate {
    /// `TRUNCATE ... CASCADE`.
    pub const CASCADE: u8 = 1;
    /// `TRUNCATE ... RESTART IDENTITY`.
    pub const RESTART_IDENTITY: u8 = 2;

    /// Whether `CASCADE` was given.
    pub fn cascade(&self) -> bool {
        self.options & Self::CASCADE != 0
    }

    /// Whether `RESTART IDENTITY` was given.
    pub fn restart_identity(&self) -> bool {
        self.options & Self::RESTART_IDENTITY != 0
    }
}

/// `M`: a logical decoding message (`pg_logical_emit_message`); sent only when the
/// `messages` option is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalDecodingMessage {
    /// Emitted inside the transaction (between Begin and Commit) rather than at once.
    pub transactional: bool,
    /// The LSN of the message.
    pub lsn: u64,
    /// The prefix given to `pg_logical_emit_message`.
    pub prefix: String,
    /// The content, a zero-copy slice.
    pub content: Bytes,
}

/// A pgoutput (protocol version 1) message, carried in [`ReplicationMessage::XLogData`](super::ReplicationMessage::XLogData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogicalMessage {
    Begin(Begin),
    Commit(Commit),
    Origin(Origin),
    Relation(Relation),
    Type(TypeMessage),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Truncate(Truncate),
    Message(LogicalDecodingMessage),
}

impl LogicalMessage {
    /// The message kind, as named in the protocol documentation.
    pub fn name(&self) -> &'static str {
        match self {
            LogicalMessage::Begin(_) => "Begin",
            LogicalMessage::Commit(_) => "Commit",
            LogicalMessage::Origin(_) => "Origin",
            LogicalMessage::Relation(_) => "Relation",
            LogicalMessage::Type(_) => "Type",
            LogicalMessage::Insert(_) => "Insert",
            LogicalMessage::Update(_) => "Update",
            LogicalMessage::Delete(_) => "Delete",
            LogicalMessage::Truncate(_) => "Truncate",
            LogicalMessage::Message(_) => "Message",
        }
    }
}
