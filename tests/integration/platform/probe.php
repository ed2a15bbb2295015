<?php
// Which file ran, and what PHP was told of the script and its tree: the
// routing of platforms and path sites checks these.
header('Content-Type: application/json');
$names = array('SCRIPT_FILENAME', 'SCRIPT_NAME', 'PHP_SELF', 'DOCUMENT_ROOT',
    'PATH_INFO', 'REQUEST_URI', 'CONTEXT_PREFIX', 'CONTEXT_DOCUMENT_ROOT',
    'VMOODLE_ID', 'VMOODLE_HOST', 'VMOODLE_WWWROOT');
$out = array('file' => isset($probefile) ? $probefile : __FILE__,
    'cwd' => getcwd());
foreach ($names as $name) {
    $out[$name] = isset($_SERVER[$name]) ? $_SERVER[$name] : null;
}
echo json_encode($out);
