<?php
// A page that starts a process, as a task's "Run now" does.
define('VMOODLE_TEST_CHILD', 1);
require(__DIR__ . '/config.php');
