-- The instance table for a new installation, in MySQL or MariaDB.
-- Same columns and defaults as VMoodle's local_vmoodle (so data moves
-- between VMoodle, JSON and this table unchanged), plus a unique index on
-- vhostname: two rows can never claim one host.  MySQL has no change
-- notification: mod_vmoodle reloads every VMoodleRefresh seconds.
-- Its name, vmoodle_instances, is not Moodle's: Moodle owns every table
-- whose name starts with its prefix (mdl_), and its installer stops on
-- finding one ("Database tables already present"), so this table can sit in
-- the master's database before or after Moodle is installed and
-- check_database_schema.php never reports it.  Point the module at it with
-- VMoodleTable vmoodle_instances (vcron, vmoodlectl: table =).  A master
-- that runs the VMoodle plugin keeps its own mdl_local_vmoodle instead.
-- Run against Moodle's database:  mariadb moodle < mysql.sql

CREATE TABLE IF NOT EXISTS vmoodle_instances (
    id          BIGINT(10)   NOT NULL AUTO_INCREMENT,
    name        VARCHAR(255),
    shortname   VARCHAR(80),
    description LONGTEXT,
    vhostname   VARCHAR(255),
    vdbtype     VARCHAR(16)  NOT NULL DEFAULT 'mysqli',
    vdbhost     VARCHAR(80)  NOT NULL DEFAULT 'localhost',
    vdblogin    VARCHAR(16)  NOT NULL DEFAULT 'root',
    vdbpass     VARCHAR(32),
    vdbname     VARCHAR(64),
    vdbprefix   VARCHAR(10)  NOT NULL DEFAULT 'mdl_',
    vdbpersist  TINYINT(1)   NOT NULL DEFAULT 0,
    vdatapath   VARCHAR(255),
    mnet        MEDIUMINT(3) NOT NULL DEFAULT 0,
    enabled     TINYINT(1)   NOT NULL DEFAULT 1,
    timecreated BIGINT(10)   NOT NULL DEFAULT 0,
    lastcron    BIGINT(11)   NOT NULL DEFAULT 0,
    lastcrongap BIGINT(11)   NOT NULL DEFAULT 0,
    croncount   BIGINT(11)   NOT NULL DEFAULT 0,
    metadata    LONGTEXT,
    PRIMARY KEY (id),
    UNIQUE KEY vmoodle_instances_vhostname_uix (vhostname)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Not VMoodle's: the site's platform (a name from the platforms file;
-- '' = the default code tree) and its aliases (hosts or URLs answering
-- 301 to the site, separated by spaces).  The sources read them when the
-- table has them; a table made by an earlier version of this file gets
-- them when the file is run again.
ALTER TABLE vmoodle_instances
    ADD COLUMN IF NOT EXISTS platform VARCHAR(64)   NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS aliases  VARCHAR(4096) NOT NULL DEFAULT '';
