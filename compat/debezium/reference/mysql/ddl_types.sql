-- Reference case "ddl_types": what tableChanges says about column types and attributes
-- (include.schema.changes=true). The snapshot emits the CREATE TABLE of SHOW CREATE TABLE for
-- three tables (every type/attribute, a composite key in another charset, no key); streaming
-- adds ALTERs (added column with comment, modified charset/default, table comment), a
-- CREATE TABLE as typed (two: one with json/boolean/numeric typed as such), CREATE INDEX,
-- CREATE TABLE ... LIKE, RENAME TABLE, TRUNCATE, a view,
-- ADD PRIMARY KEY on a nullable column, a two-table DROP TABLE, and DDL in another database
-- (dbzref_other, not captured).
DROP DATABASE IF EXISTS dbzref_other;
DROP TABLE IF EXISTS ddl_types, ddl_types_ck, ddl_types_nokey;
CREATE TABLE ddl_types (
    id      int unsigned NOT NULL AUTO_INCREMENT COMMENT 'row id',
    e       enum('a','b','it''s') NOT NULL DEFAULT 'b',
    st      set('x','y','z') DEFAULT 'x,z',
    d       decimal(10,2) DEFAULT 1.50,
    dn      decimal(10,2) NOT NULL,
    v20     varchar(20) CHARACTER SET latin1 DEFAULT 'latin',
    vu      varchar(10) COLLATE utf8mb4_bin,
    dt3     datetime(3) DEFAULT CURRENT_TIMESTAMP(3),
    ts      timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    tsn     timestamp(6) NULL,
    bi      bigint unsigned DEFAULT 42,
    b1      bigint(20),
    ti1     tinyint(1) DEFAULT 0,
    bo      boolean,
    si      smallint(5) unsigned zerofill,
    mi      mediumint,
    fl      float,
    fl73    float(7,3),
    db      double,
    dbp     double precision(10,4),
    bt      bit(5) DEFAULT b'101',
    b1t     bit,
    ch      char(3) NOT NULL DEFAULT '',
    tx      text COMMENT 'a ''quoted'' comment',
    mt      mediumtext CHARACTER SET latin1,
    bl      blob,
    vb      varbinary(16),
    bn      binary(4),
    js      json,
    dte     date DEFAULT '2020-01-02',
    tm2     time(2),
    yr      year,
    gv      int GENERATED ALWAYS AS (id * 2) VIRTUAL,
    gs      varchar(30) AS (concat(v20, '!')) STORED,
    nl      varchar(5) DEFAULT NULL,
    q       varchar(10) DEFAULT 'it''s',
    neg     int DEFAULT -1,
    ex      int DEFAULT (1 + 1),
    bx      varbinary(4) DEFAULT x'0a41',
    dtu     datetime DEFAULT '2020-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='types for tableChanges';
CREATE TABLE ddl_types_ck (b varchar(5), a int, c int, PRIMARY KEY (b, a)) DEFAULT CHARSET=latin1;
CREATE TABLE ddl_types_nokey (x int, y text);
INSERT INTO ddl_types (dn) VALUES (1.25);
-- @stream
INSERT INTO ddl_types (dn) VALUES (2.50);
ALTER TABLE ddl_types ADD COLUMN added datetime(6) NULL COMMENT 'added later' AFTER e,
    MODIFY COLUMN v20 varchar(40) CHARACTER SET latin1 NOT NULL DEFAULT 'x',
    ALTER COLUMN d SET DEFAULT 9.99;
INSERT INTO ddl_types (dn) VALUES (3.75);
ALTER TABLE ddl_types COMMENT = 'changed comment';
CREATE TABLE ddl_types_s (
    a   int unsigned NOT NULL AUTO_INCREMENT,
    e   enum('x','y') DEFAULT 'y',
    n   decimal(10,2) NOT NULL DEFAULT 0.00,
    v   varchar(20) CHARACTER SET latin1,
    t   datetime(3),
    i   int,
    PRIMARY KEY (a)
) COMMENT 'streamed table';
INSERT INTO ddl_types_s (v) VALUES ('s');
CREATE INDEX ddl_types_s_v ON ddl_types_s (v);
CREATE TABLE ddl_types_like LIKE ddl_types_ck;
RENAME TABLE ddl_types_s TO ddl_types_r;
CREATE TABLE ddl_types_j (
    id  bigint unsigned NOT NULL PRIMARY KEY,
    j   json,
    b   boolean DEFAULT true,
    n   numeric(6,3),
    dtm datetime DEFAULT '2020-01-02 03:04:05',
    ts6 timestamp(6) NULL DEFAULT CURRENT_TIMESTAMP(6),
    f30 float(30),
    tt  tinytext,
    lb  longblob,
    c1  char
);
INSERT INTO ddl_types_r (v) VALUES ('r');
TRUNCATE TABLE ddl_types_r;
CREATE VIEW ddl_types_v AS SELECT id FROM ddl_types;
DROP VIEW ddl_types_v;
ALTER TABLE ddl_types_nokey ADD PRIMARY KEY (x);
DROP TABLE ddl_types_r, ddl_types_nokey;
CREATE DATABASE dbzref_other;
CREATE TABLE dbzref_other.t (a int PRIMARY KEY);
ALTER TABLE dbzref_other.t ADD COLUMN b int;
DROP DATABASE dbzref_other;
INSERT INTO ddl_types_like VALUES ('last', 1, 1);
