-- The instance table for a new installation, in PostgreSQL.
-- Same columns and defaults as VMoodle's local_vmoodle (so data moves
-- between VMoodle, JSON and this table unchanged), plus:
--   * a unique index on vhostname: two rows can never claim one host;
--   * triggers sending NOTIFY vmoodle_instances on every change that
--     routing may use (not vcron's cron figures), so mod_vmoodle reloads
--     at once instead of at its next VMoodleRefresh.
-- Its name, vmoodle_instances, is not Moodle's: Moodle owns every table
-- whose name starts with its prefix (mdl_), and its installer stops on
-- finding one ("Database tables already present"), so this table can sit in
-- the master's database before or after Moodle is installed and
-- check_database_schema.php never reports it.  Point the module at it with
-- VMoodleTable vmoodle_instances (vcron, vmoodlectl: table =).  A master
-- that runs the VMoodle plugin keeps its own mdl_local_vmoodle instead.
-- Run as the table's owner:  psql -d moodle -f pgsql.sql

CREATE TABLE IF NOT EXISTS vmoodle_instances (
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

-- Not VMoodle's: the site's platform (a name from the platforms file;
-- '' = the default code tree) and its aliases (hosts or URLs answering
-- 301 to the site, separated by spaces).  The sources read them when the
-- table has them; a table made by an earlier version of this file gets
-- them when the file is run again.
ALTER TABLE vmoodle_instances
    ADD COLUMN IF NOT EXISTS platform VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS aliases  TEXT        NOT NULL DEFAULT '';

CREATE UNIQUE INDEX IF NOT EXISTS vmoodle_instances_vhostname_uix
    ON vmoodle_instances (vhostname);

-- A change that routing may use sends NOTIFY vmoodle_instances, so
-- listeners reload the table at once; vcron's own UPDATE of a run's
-- croncount, lastcron and lastcrongap sends nothing: those figures are not
-- routing, and at one run per instance per period they would make the
-- module reload the whole table many times a second.  Inserts, deletes and
-- TRUNCATE notify once per statement; an UPDATE, for each row whose other
-- columns changed (PostgreSQL sends one notification per transaction,
-- however many rows: listeners reload the whole table anyway).
--
-- Upgrading a table made by an earlier version of this file (which
-- notified on every statement, vcron's included): run this file again.
-- The table and its rows are left as they are; the function and the
-- triggers below are replaced.  For the same table under another name,
-- run this section with vmoodle_instances replaced in the ON clauses.
CREATE OR REPLACE FUNCTION vmoodle_instances_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vmoodle_instances', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- The row without vcron's figures: what a routing change changes.
CREATE OR REPLACE FUNCTION vmoodle_instances_routing(r anyelement)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT to_jsonb(r) - 'croncount' - 'lastcron' - 'lastcrongap'
$$;

DROP TRIGGER IF EXISTS vmoodle_instances_changed ON vmoodle_instances;
CREATE TRIGGER vmoodle_instances_changed
    AFTER INSERT OR DELETE OR TRUNCATE ON vmoodle_instances
    FOR EACH STATEMENT EXECUTE FUNCTION vmoodle_instances_notify();

DROP TRIGGER IF EXISTS vmoodle_instances_updated ON vmoodle_instances;
CREATE TRIGGER vmoodle_instances_updated
    AFTER UPDATE ON vmoodle_instances
    FOR EACH ROW
    WHEN (vmoodle_instances_routing(OLD) IS DISTINCT FROM
          vmoodle_instances_routing(NEW))
    EXECUTE FUNCTION vmoodle_instances_notify();
