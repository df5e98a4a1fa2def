-- The CDR database: Asterisk's cdr_pgsql writes, the telephony adapter reads.
--   createdb asterisk_cdr && psql -d asterisk_cdr -v ON_ERROR_STOP=1 -f cdr_pgsql.sql
-- then set the two passwords (ALTER ROLE … PASSWORD '…'). Roles are cluster-wide: this script
-- creates them only where they do not exist yet.
--   asterisk_cdr  Asterisk (cdr_pgsql.conf user): INSERT only — it cannot read or change the history
--   hotline_cdr   the adapter (HOTLINE_CDR_DATABASE_URL): SELECT only
-- The columns are Asterisk 22's (contrib/realtime/postgresql/postgresql_cdr.sql).
CREATE TABLE IF NOT EXISTS cdr (
    accountcode VARCHAR(80),
    src VARCHAR(80),
    dst VARCHAR(80),
    dcontext VARCHAR(80),
    clid VARCHAR(80),
    channel VARCHAR(80),
    dstchannel VARCHAR(80),
    lastapp VARCHAR(80),
    lastdata VARCHAR(80),
    start TIMESTAMP WITHOUT TIME ZONE,
    answer TIMESTAMP WITHOUT TIME ZONE,
    "end" TIMESTAMP WITHOUT TIME ZONE,
    duration INTEGER,
    billsec INTEGER,
    disposition VARCHAR(45),
    amaflags VARCHAR(45),
    userfield VARCHAR(256),
    uniqueid VARCHAR(150),
    linkedid VARCHAR(150),
    peeraccount VARCHAR(80),
    sequence INTEGER
);
-- the adapter reads a window by its end time, then every row of the calls found
CREATE INDEX IF NOT EXISTS cdr_end_idx ON cdr ("end");
CREATE INDEX IF NOT EXISTS cdr_linkedid_idx ON cdr (linkedid);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asterisk_cdr') THEN
        CREATE ROLE asterisk_cdr LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hotline_cdr') THEN
        CREATE ROLE hotline_cdr LOGIN;
    END IF;
END
$$;
REVOKE ALL ON cdr FROM PUBLIC;
GRANT INSERT ON cdr TO asterisk_cdr;
GRANT SELECT ON cdr TO hotline_cdr;
