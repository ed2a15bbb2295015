<?php
// Moodle's theme/styles.php stand-in: slash arguments arrive as PATH_INFO.
$probefile = __FILE__;
require __DIR__ . '/../probe.php';
