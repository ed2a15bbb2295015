<?php
// Test stand-in for Moodle's lib/setup.php: instead of booting Moodle, it
// prints as JSON what config.php handed over, so tests can check that the
// real templates/config.php works under each server flavour.
$vmoodlenames = array('VMOODLE_HOST', 'VMOODLE_ID', 'VMOODLE_SHORTNAME',
    'VMOODLE_WWWROOT', 'VMOODLE_DBTYPE', 'VMOODLE_DBHOST', 'VMOODLE_DBNAME',
    'VMOODLE_DBUSER', 'VMOODLE_DBPASS', 'VMOODLE_DBPREFIX', 'VMOODLE_DBPERSIST',
    'VMOODLE_DATAROOT', 'VMOODLE_MNET', 'VMOODLE_MASTER');
$report = array('sapi' => PHP_SAPI, 'cfg' => array(), 'server' => array(),
    'getenv' => array(), 'server_other' => array());
foreach (get_object_vars($CFG) as $name => $value) {
    $report['cfg'][$name] = $value;
}
// What PHP (and Moodle) believe of the scheme.
$report['https'] = isset($_SERVER['HTTPS']) ? $_SERVER['HTTPS'] : null;
foreach ($vmoodlenames as $name) {
    if (isset($_SERVER[$name])) {
        $report['server'][$name] = $_SERVER[$name];
    }
    $value = getenv($name);
    if ($value !== false) {
        $report['getenv'][$name] = $value;
    }
}
// Any other VMOODLE_* (e.g. REDIRECT_VMOODLE_*) would be a leak worth seeing.
foreach ($_SERVER as $name => $value) {
    if (strpos($name, 'VMOODLE_') !== false && !in_array($name, $vmoodlenames, true)) {
        $report['server_other'][$name] = $value;
    }
}
// As a cluster node sees the request (mod_remoteip, the balancer's scheme).
$report['remote_addr'] = isset($_SERVER['REMOTE_ADDR']) ? $_SERVER['REMOTE_ADDR'] : null;
// ?redis=KEY[&value=V]: write or read KEY in the sessions' Redis under the
// site's prefix, the way Moodle's redis session handler files its keys.
if (isset($_GET['redis']) && !empty($CFG->session_redis_host)) {
    $redis = new Redis();
    $redis->connect($CFG->session_redis_host, $CFG->session_redis_port, 3);
    $redis->setOption(Redis::OPT_PREFIX, $CFG->session_redis_prefix);
    if (isset($_GET['value'])) {
        $redis->set($_GET['redis'], $_GET['value']);
    }
    $report['redis'] = $redis->get($_GET['redis']);
}
if (PHP_SAPI !== 'cli') {
    header('Content-Type: application/json');
    if (isset($_SERVER['VMOODLE_ID'])) {
        header('X-VMoodle-Php-Id: ' . $_SERVER['VMOODLE_ID']);
    }
}
// task.php: what a process started from this request sees, as Moodle's
// "Run now" starts $CFG->pathtophp (its environment is this process's).
if (defined('VMOODLE_TEST_CHILD')) {
    $report['pid'] = getmypid();
    $report['child'] = array();
    foreach (explode("\0", (string)shell_exec('/usr/bin/env -0')) as $line) {
        $pair = explode('=', $line, 2);
        if (count($pair) === 2 && in_array($pair[0], $vmoodlenames, true)) {
            $report['child'][$pair[0]] = $pair[1];
        }
    }
    $report['child'] = (object)$report['child'];
}
foreach (array('cfg', 'server', 'getenv', 'server_other') as $name) {
    $report[$name] = (object)$report[$name];    // {} rather than [] when empty
}
echo json_encode($report, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
