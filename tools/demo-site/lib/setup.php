<?php
// Demo stand-in for Moodle's lib/setup.php: shows which instance answered
// and the configuration config.php built for it, passwords masked.
$demomask = function ($name, $value) {
    if (stripos($name, 'pass') !== false && $value !== '') {
        return str_repeat('*', 8);
    }
    return is_scalar($value) ? (string)$value : json_encode($value);
};
$demoh = function ($text) {
    return htmlspecialchars((string)$text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
};
$demorows = function (array $values) use ($demomask, $demoh) {
    $out = '';
    foreach ($values as $name => $value) {
        $out .= '<tr><th>' . $demoh($name) . '</th><td><code>'
            . $demoh($demomask($name, $value)) . "</code></td></tr>\n";
    }
    return $out;
};

$demoismaster = isset($_SERVER['VMOODLE_MASTER']);
$demotitle = $demoismaster ? 'The master Moodle'
    : 'Instance #' . (int)$_SERVER['VMOODLE_ID'] . ': ' . $_SERVER['VMOODLE_SHORTNAME'];
$demoenv = array();
foreach ($_SERVER as $name => $value) {
    if (strncmp($name, 'VMOODLE_', 8) === 0) {
        $demoenv[$name] = $value;
    }
}
ksort($demoenv);
$democfg = array();
foreach (array('wwwroot', 'dataroot', 'dbtype', 'dblibrary', 'dbhost', 'dbname',
        'dbuser', 'dbpass', 'prefix', 'dboptions', 'sessioncookie', 'admin') as $name) {
    if (isset($CFG->$name)) {
        $democfg['$CFG->' . $name] = $CFG->$name;
    }
}
header('Content-Type: text/html; charset=utf-8');
?>
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title><?php echo $demoh($demotitle); ?></title>
<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}
td code{background:#f4f4f4;padding:0 .3em}</style></head>
<body>
<h1><?php echo $demoh($demotitle); ?></h1>
<p>Answered for <strong><?php echo $demoh($_SERVER['HTTP_HOST'] ?? ''); ?></strong>
by PHP <?php echo $demoh(PHP_VERSION . ' (' . PHP_SAPI . ')'); ?>,
process <?php echo (int)getmypid(); ?>.</p>
<h2>What config.php set</h2>
<table><?php echo $demorows($democfg); ?></table>
<h2>What mod_vmoodle handed PHP</h2>
<table><?php echo $demorows($demoenv); ?></table>
</body>
</html>
