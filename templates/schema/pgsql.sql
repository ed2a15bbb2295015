-- The instance table for a new installation, in PostgreSQL.
-- Same columns and defaults as VMoodle's local_vmoodle (so data moves
-- between VMoodle, JSON and this table unchanged), plus:
--   * a unique index on vhostname: two rows can never claim one host;
--   * a trigger sending NOTIFY vmoodle_instances on every change, so
--     mod_vmoodle reloads at once instead of at its next VMoodleRefresh.
-- Run as the table's owner:  psql -d moodle -f pgsql.sql
-- With another Moodle prefix, replace mdl_ throughout.

CREATE TABLE IF NOT EXISTS mdl_local_vmoodle (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(255),
    shortname   VARCHAR(80),
    description TEXT,
    vhostname   VARCHAR(255),
    vdbtype     VARCHAR(16)  NOT NULL DEFAULT 'mysqli',
    vdbhost     VARCHAR(80)  NOT NULL DEFAULT 'localhost',
    vdblogin    VARCHAR(16)  NOT NULL DEFAULT 'root',
    vdbpass     VARCHAR(32),
    vdbname     VARCHAR(64),
    vdbprefix   VARCHAR(10)  NOT NULL DEFAULT 'mdl_',
    vdbpersist  SMALLINT     NOT NULL DEFAULT 0,
    vdatapath   VARCHAR(255),
    mnet        SMALLINT     NOT NULL DEFAULT 0,
    enabled     SMALLINT     NOT NULL DEFAULT 1,
    timecreated BIGINT       NOT NULL DEFAULT 0,
    lastcron    BIGINT       NOT NULL DEFAULT 0,
    lastcrongap BIGINT       NOT NULL DEFAULT 0,
    croncount   BIGINT       NOT NULL DEFAULT 0,
    metadata    TEXT
);

CREATE UNIQUE INDEX IF NOT EXISTS mdl_local_vmoodle_vhostname_uix
    ON mdl_local_vmoodle (vhostname);

-- One notification per statement, whatever it touched: listeners reload
-- the whole table, so which rows changed does not matter.
CREATE OR REPLACE FUNCTION mdl_local_vmoodle_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vmoodle_instances', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS mdl_local_vmoodle_changed ON mdl_local_vmoodle;
CREATE TRIGGER mdl_local_vmoodle_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mdl_local_vmoodle
    FOR EACH STATEMENT EXECUTE FUNCTION mdl_local_vmoodle_notify();
