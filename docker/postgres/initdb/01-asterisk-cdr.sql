-- Asterisk's own CDR table, written by cdr_pgsql (cdr_pgsql.conf: table = asterisk_cdr).
-- callcenter keeps its own call records; this table is for comparing with Asterisk's view.
CREATE TABLE IF NOT EXISTS asterisk_cdr (
    calldate timestamptz NOT NULL DEFAULT now(),
    clid varchar(80) NOT NULL DEFAULT '',
    src varchar(80) NOT NULL DEFAULT '',
    dst varchar(80) NOT NULL DEFAULT '',
    dcontext varchar(80) NOT NULL DEFAULT '',
    channel varchar(80) NOT NULL DEFAULT '',
    dstchannel varchar(80) NOT NULL DEFAULT '',
    lastapp varchar(80) NOT NULL DEFAULT '',
    lastdata varchar(80) NOT NULL DEFAULT '',
    duration bigint NOT NULL DEFAULT 0,
    billsec bigint NOT NULL DEFAULT 0,
    disposition varchar(45) NOT NULL DEFAULT '',
    amaflags bigint NOT NULL DEFAULT 0,
    accountcode varchar(20) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '',
    userfield varchar(255) NOT NULL DEFAULT '',
    peeraccount varchar(20) NOT NULL DEFAULT '',
    linkedid varchar(150) NOT NULL DEFAULT '',
    sequence integer NOT NULL DEFAULT 0
);
