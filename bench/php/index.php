<?php
// The page both PHP configurations serve: boot through config.php, then name
// the database the request was routed to.
require __DIR__ . '/config.php';
header('X-Routed: ' . $CFG->dbname);
echo "ok\n";
