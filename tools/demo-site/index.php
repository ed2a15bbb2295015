<?php
// Every Moodle page starts by loading config.php; so does the demo.
require(__DIR__ . '/config.php');
