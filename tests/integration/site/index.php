<?php
// A Moodle page in miniature: every Moodle script starts this way.
require(__DIR__ . '/config.php');
