<?php
// Moodle configuration for a server routed by mod_vmoodle.
//
// One Moodle codebase serves many "virtual Moodles".  Apache's mod_vmoodle
// resolves each request's Host against its instance table and hands the
// instance's configuration to PHP as VMOODLE_* variables, before PHP runs:
//   web requests   read them from $_SERVER (mod_php or php-fpm);
//   command line   read them from the environment (vcron and vmoodlectl
//                  set them for cli/cron.php and friends).
// The master Moodle (the site whose wwwroot is `VMoodleMaster`) is marked with
// VMOODLE_MASTER=1 and gets its own settings the same way, from the module's
// VMoodleMasterConfig file (root's, 0600), and on the command line from
// vcron's and vmoodlectl's master-config: this file holds no password, since
// every site's PHP (every php-fpm pool) must read it.
//
// Without an instance and without VMOODLE_MASTER=1 this file refuses to boot
// (HTTP 500 on the web, exit code 1 on the command line): it never falls back
// to the master database, so a routing mistake cannot serve the wrong site.

unset($CFG);
global $CFG;
$CFG = new stdClass();

// ===========================================================================
// MASTER MOODLE: its public URL, which VMoodle's master-only code checks on
// every site ($CFG->mainwwwroot).  Its database, dataroot and wwwroot come
// from VMoodleMasterConfig, never from here.
// ===========================================================================
$vmoodlemainwwwroot = 'http://moodle.example.edu';   // no trailing slash
// ===========================================================================
// End of the master values.  Settings below apply to every site.
// ===========================================================================

$CFG->dblibrary = 'native';
$CFG->mainwwwroot = $vmoodlemainwwwroot;

$CFG->admin = 'admin';
$CFG->directorypermissions = 02777;
// wwwroot comes from the instance table, never from the request: keep
// reverseproxy off (Moodle would otherwise trust the request's host).
$CFG->reverseproxy = false;

// Everything below runs in the file's scope: closures, not named functions,
// so that including this file twice (as some CLI scripts do) stays harmless;
// every helper variable starts with $vmoodle and is unset at the end.

// The value of one VMOODLE_* variable, or null when it is not set.
$vmoodleget = function ($name) {
    if (PHP_SAPI === 'cli' || PHP_SAPI === 'phpdbg') {
        $value = getenv($name);
        return $value === false ? null : $value;
    }
    return isset($_SERVER[$name]) ? (string)$_SERVER[$name] : null;
};

// Stop here, saying why on the command line and only "unavailable" on the web.
$vmoodlerefuse = function ($reason) {
    if (PHP_SAPI === 'cli' || PHP_SAPI === 'phpdbg') {
        fwrite(STDERR, "config.php: refusing to boot: $reason\n");
        exit(1);
    }
    error_log("vmoodle config.php: refusing to boot: $reason");
    if (!headers_sent()) {
        http_response_code(500);
        header('Content-Type: text/html; charset=utf-8');
        header('Cache-Control: no-store');
    }
    echo "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        . "<title>Site unavailable</title></head><body>"
        . "<h1>Site unavailable</h1>"
        . "<p>This site is not configured on this server.</p>"
        . "</body></html>\n";
    exit(1);
};

// Split "host:port" or "[v6]:port" into array(host, port); a bare IPv6
// address, a socket path or a plain name comes back unchanged with no port.
$vmoodlesplithost = function ($hostport) {
    if (preg_match('/^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/', $hostport, $m)) {
        return array($m[1], isset($m[2]) ? $m[2] : '');
    }
    if (preg_match('/^([^:\[\]]+):(\d{1,5})$/', $hostport, $m)) {
        return array($m[1], $m[2]);
    }
    return array($hostport, '');
};

$vmoodleinstancevars = array(
    'VMOODLE_HOST', 'VMOODLE_ID', 'VMOODLE_SHORTNAME', 'VMOODLE_WWWROOT',
    'VMOODLE_DBTYPE', 'VMOODLE_DBHOST', 'VMOODLE_DBNAME', 'VMOODLE_DBUSER',
    'VMOODLE_DBPASS', 'VMOODLE_DBPREFIX', 'VMOODLE_DBPERSIST',
    'VMOODLE_DATAROOT', 'VMOODLE_MNET',
);
// The master's: the same without what names an instance.
$vmoodlemastervars = array_values(array_diff($vmoodleinstancevars, array(
    'VMOODLE_HOST', 'VMOODLE_ID', 'VMOODLE_SHORTNAME', 'VMOODLE_MNET')));
// These may not be empty; the others (a password, say) may.
$vmoodlerequired = array('VMOODLE_HOST', 'VMOODLE_ID', 'VMOODLE_WWWROOT',
    'VMOODLE_DBTYPE', 'VMOODLE_DBNAME', 'VMOODLE_DATAROOT');

$vmoodle = array();
foreach ($vmoodleinstancevars as $vmoodlename) {
    $vmoodlevalue = $vmoodleget($vmoodlename);
    if ($vmoodlevalue !== null) {
        $vmoodle[$vmoodlename] = $vmoodlevalue;
    }
}
$vmoodlemaster = $vmoodleget('VMOODLE_MASTER') === '1';

if ($vmoodlemaster && array_diff(array_keys($vmoodle), $vmoodlemastervars)) {
    $vmoodlerefuse('both VMOODLE_MASTER and instance variables are set');
} else if (!$vmoodlemaster && !$vmoodle) {
    $vmoodlerefuse('no VMOODLE_* instance and VMOODLE_MASTER is not 1');
}
$vmoodlewanted = $vmoodlemaster ? $vmoodlemastervars : $vmoodleinstancevars;
foreach ($vmoodlewanted as $vmoodlename) {
    if (!isset($vmoodle[$vmoodlename])) {
        $vmoodlerefuse("$vmoodlename is missing" . ($vmoodlemaster
            ? ' (the master\'s settings come from VMoodleMasterConfig, and '
              . 'on the command line from vcron\'s or vmoodlectl\'s master-config)'
            : ''));
    }
}
foreach (array_intersect($vmoodlerequired, $vmoodlewanted) as $vmoodlename) {
    if ($vmoodle[$vmoodlename] === '') {
        $vmoodlerefuse("$vmoodlename is empty");
    }
}
if (!in_array($vmoodle['VMOODLE_DBTYPE'], array('pgsql', 'mariadb', 'mysqli'), true)) {
    $vmoodlerefuse('VMOODLE_DBTYPE is not pgsql, mariadb or mysqli');
}

list($vmoodledbhost, $vmoodledbport) = $vmoodlesplithost($vmoodle['VMOODLE_DBHOST']);
// MariaDB/MySQL on a socket: Moodle wants it as dbsocket, with localhost.
$vmoodledbsocket = '';
if ($vmoodle['VMOODLE_DBTYPE'] !== 'pgsql' && substr($vmoodledbhost, 0, 1) === '/') {
    list($vmoodledbhost, $vmoodledbsocket) = array('localhost', $vmoodledbhost);
}
$CFG->dbtype    = $vmoodle['VMOODLE_DBTYPE'];
$CFG->dbhost    = $vmoodledbhost;
$CFG->dbname    = $vmoodle['VMOODLE_DBNAME'];
$CFG->dbuser    = $vmoodle['VMOODLE_DBUSER'];
$CFG->dbpass    = $vmoodle['VMOODLE_DBPASS'];
$CFG->prefix    = $vmoodle['VMOODLE_DBPREFIX'];
$CFG->dboptions = array(
    'dbpersist' => (int)$vmoodle['VMOODLE_DBPERSIST'] ? 1 : 0,
    'dbport'    => $vmoodledbport,
    'dbsocket'  => $vmoodledbsocket,
);
$CFG->wwwroot   = rtrim($vmoodle['VMOODLE_WWWROOT'], '/');
$CFG->dataroot  = $vmoodle['VMOODLE_DATAROOT'];
// One session cookie per instance, so sites on a shared parent domain
// never read each other's sessions (Moodle prefixes "MoodleSession").
if (!$vmoodlemaster) {
    $CFG->sessioncookie = preg_replace('/[^A-Za-z0-9_]/', '', $vmoodle['VMOODLE_SHORTNAME']);
    if ($CFG->sessioncookie === '') {
        $CFG->sessioncookie = 'vm' . (int)$vmoodle['VMOODLE_ID'];
    }
}
unset($vmoodledbhost, $vmoodledbport, $vmoodledbsocket);

// Processes that Moodle starts from a web request (a task's "Run now" runs
// $CFG->pathtophp with this process's environment) must boot this same
// site.  php-fpm workers and Apache children serve request after request:
// every variable is set or removed here on every request, so nothing of an
// earlier request's site can reach this one's children.
if (PHP_SAPI !== 'cli' && PHP_SAPI !== 'phpdbg') {
    foreach (array_merge($vmoodleinstancevars, array('VMOODLE_MASTER')) as $vmoodlename) {
        if ($vmoodlename === 'VMOODLE_MASTER') {
            $vmoodlevalue = $vmoodlemaster ? '1' : null;
        } else {
            $vmoodlevalue = in_array($vmoodlename, $vmoodlewanted, true)
                ? $vmoodle[$vmoodlename] : null;
        }
        putenv($vmoodlevalue === null ? $vmoodlename : "$vmoodlename=$vmoodlevalue");
    }
}

// ===========================================================================
// CLUSTER: several web nodes behind a balancer (docs/scale-out.md).  Off
// unless 'enabled' is true; then, for every site (the master included):
//   - sessions live in Redis, under a prefix of the site's own, the same on
//     every node: a session moves with its user from node to node, and a
//     session id taken from one site is never a session on another;
//   - localcachedir is a folder of that site in 'localcache', on the node's
//     own disk; tempdir and cachedir stay in the shared dataroot;
//   - the scheme is the balancer's: mod_vmoodle sets HTTPS=on for a request
//     that reached the balancer over TLS (VMoodleTrustedProxy and its
//     X-Forwarded-Proto), and Moodle redirects plain http to an https
//     site's wwwroot itself; 'sslproxy' is for a balancer that says
//     nothing of the scheme (see below);
//   - Moodle takes the client's address from REMOTE_ADDR alone, which the
//     node's mod_remoteip sets from the balancer's X-Forwarded-For.
// ===========================================================================
$vmoodlecluster = array(
    'enabled'    => false,
    'redis'      => '127.0.0.1:6379',    // host:port of the sessions' Redis
    'redisdb'    => 0,
    'redisauthfile' => '',               // file holding Redis's password; '' none
    'localcache' => '/var/cache/moodle-local',   // this node's disk
    // true only when the nodes cannot tell an https request (a balancer
    // that sends no X-Forwarded-Proto, or is not VMoodleTrustedProxy):
    // Moodle then takes every request to an https site for https, and
    // serves plain http too unless the balancer redirects it.
    'sslproxy'   => false,
);
if ($vmoodlecluster['enabled']) {
    // The site's tag: its id and a digest of what makes it that site (its
    // URL and its database), so a site recreated under an old name or id
    // never meets the old one's sessions.
    $vmoodlesite = ($vmoodlemaster ? 'master' : 'vm' . (int)$vmoodle['VMOODLE_ID'])
        . '_' . substr(sha1(implode("\n", array($CFG->wwwroot, $CFG->dbtype,
            $CFG->dbhost, $CFG->dboptions['dbport'], $CFG->dbname, $CFG->prefix))), 0, 12);
    list($vmoodleredishost, $vmoodleredisport) = $vmoodlesplithost($vmoodlecluster['redis']);
    $CFG->session_handler_class = '\core\session\redis';
    $CFG->session_redis_host = $vmoodleredishost;
    $CFG->session_redis_port = $vmoodleredisport === '' ? 6379 : (int)$vmoodleredisport;
    $CFG->session_redis_database = (int)$vmoodlecluster['redisdb'];
    $CFG->session_redis_prefix = $vmoodlesite . ':';
    if ($vmoodlecluster['redisauthfile'] !== '') {
        $vmoodleredisauth = @file_get_contents($vmoodlecluster['redisauthfile']);
        if ($vmoodleredisauth === false) {
            $vmoodlerefuse('cannot read the Redis password file');
        }
        $CFG->session_redis_auth = trim($vmoodleredisauth);
    }
    $CFG->localcachedir = rtrim($vmoodlecluster['localcache'], '/') . '/' . $vmoodlesite;
    $CFG->tempdir  = $CFG->dataroot . '/temp';
    $CFG->cachedir = $CFG->dataroot . '/cache';
    $CFG->getremoteaddrconf = 3;    // neither HTTP_CLIENT_IP nor X-Forwarded-For
    if ($vmoodlecluster['sslproxy'] && strncmp($CFG->wwwroot, 'https://', 8) === 0) {
        $CFG->sslproxy = true;
    }
    unset($vmoodlesite, $vmoodleredishost, $vmoodleredisport, $vmoodleredisauth);
}
unset($vmoodlecluster);
// ===========================================================================
// End of the cluster section.
// ===========================================================================

unset($vmoodleget, $vmoodlerefuse, $vmoodlesplithost, $vmoodleinstancevars,
      $vmoodlerequired, $vmoodle, $vmoodlename, $vmoodlevalue, $vmoodlemaster,
      $vmoodlemastervars, $vmoodlewanted, $vmoodlemainwwwroot);

require_once(__DIR__ . '/lib/setup.php');

// There is no php closing tag in this file, it is intentional because it
// prevents trailing whitespace problems.
