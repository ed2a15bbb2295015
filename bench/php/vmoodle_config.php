<?php
// (e) What VMoodle's config.php and bootlib.php do on every request: static
// master values, then a new connection to the master database and a SELECT
// of the instance by "scheme://Host", then $CFG from the row.  Unlike
// VMoodle, the host is passed as a parameter, not pasted into the SQL.
unset($CFG);
global $CFG;
$CFG = new stdClass();
$CFG->dbtype    = 'pgsql';
$CFG->dblibrary = 'native';
$CFG->dbhost    = getenv('BENCH_PGHOST');   // the Unix socket's directory
$CFG->dbname    = 'moodle';
$CFG->dbuser    = 'moodle';
$CFG->dbpass    = '';
$CFG->prefix    = 'mdl_';
$CFG->dboptions = array('dbpersist' => 0, 'dbport' => getenv('BENCH_PGPORT'));
$CFG->wwwroot   = 'http://moodle.bench.test';
$CFG->dataroot  = '/var/moodledata';
$CFG->admin     = 'admin';
$CFG->directorypermissions = 02777;

$vhost = 'http://' . $_SERVER['HTTP_HOST'];
$db = pg_connect("host={$CFG->dbhost} port={$CFG->dboptions['dbport']} "
                 . "dbname={$CFG->dbname} user={$CFG->dbuser}",
                 PGSQL_CONNECT_FORCE_NEW);
if (!$db) {
    http_response_code(500);
    exit("master database unreachable\n");
}
$result = pg_query_params($db,
    "SELECT * FROM {$CFG->prefix}local_vmoodle WHERE vhostname = $1",
    array($vhost));
$row = $result ? pg_fetch_assoc($result) : false;
pg_close($db);
if (!$row) {
    http_response_code(404);
    exit("unknown host\n");
}
$CFG->mainwwwroot = $CFG->wwwroot;
$CFG->dbtype    = $row['vdbtype'] === 'postgres' ? 'pgsql' : $row['vdbtype'];
$CFG->dbhost    = $row['vdbhost'];
$CFG->dbname    = $row['vdbname'];
$CFG->dbuser    = $row['vdblogin'];
$CFG->dbpass    = $row['vdbpass'];
$CFG->prefix    = $row['vdbprefix'];
$CFG->dboptions = array('dbpersist' => (int)$row['vdbpersist']);
$CFG->wwwroot   = $row['vhostname'];
$CFG->dataroot  = $row['vdatapath'];
unset($vhost, $db, $result, $row);

require_once(__DIR__ . '/lib/setup.php');
