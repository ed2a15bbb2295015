<?php
// Stands in for Moodle's lib/setup.php: the bench measures routing and
// configuration, not Moodle.
