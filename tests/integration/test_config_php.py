"""templates/config.php on the web, without mod_vmoodle: the variables are
set with SetEnv, so this checks the PHP side alone under both flavours."""
import client

INSTANCE = {
    "VMOODLE_HOST": "alpha.test",
    "VMOODLE_ID": "7",
    "VMOODLE_SHORTNAME": "alpha-1",
    "VMOODLE_WWWROOT": "http://alpha.test/",
    "VMOODLE_DBTYPE": "mariadb",
    "VMOODLE_DBHOST": "db.internal:3307",
    "VMOODLE_DBNAME": "alphadb",
    "VMOODLE_DBUSER": "alphauser",
    "VMOODLE_DBPASS": "alpha-secret",
    "VMOODLE_DBPREFIX": "al_",
    "VMOODLE_DBPERSIST": "1",
    "VMOODLE_DATAROOT": "/srv/moodledata/alpha",
    "VMOODLE_MNET": "-1",
}

# What mod_vmoodle gives the master's requests from VMoodleMasterConfig.
MASTER = {
    "VMOODLE_MASTER": "1",
    "VMOODLE_WWWROOT": "http://moodle.example.edu",
    "VMOODLE_DBTYPE": "pgsql",
    "VMOODLE_DBHOST": "dbmaster:5433",
    "VMOODLE_DBNAME": "moodle",
    "VMOODLE_DBUSER": "moodleuser",
    "VMOODLE_DBPASS": "master-secret",
    "VMOODLE_DBPREFIX": "mdl_",
    "VMOODLE_DBPERSIST": "0",
    "VMOODLE_DATAROOT": "/var/moodledata",
}


def setenv_for_host(host, env):
    """Configuration giving requests for host the variables env."""
    lines = [f"<If \"%{{HTTP_HOST}} == '{host}'\">"]
    lines += [f'    SetEnv {name} "{value}"' for name, value in env.items()]
    lines.append("</If>")
    return "\n".join(lines)


def start(start_httpd, *blocks):
    return start_httpd(extra="\n".join(blocks), vmoodle=False)


def test_instance_variables_become_cfg(start_httpd):
    server = start(start_httpd, setenv_for_host("alpha.test", INSTANCE))
    resp = client.get(server.port, "alpha.test", "/index.php")
    assert resp.status == 200, resp.text
    report = resp.json()
    assert report["server"] == INSTANCE
    assert report["getenv"] == INSTANCE
    cfg = report["cfg"]
    assert cfg["dbtype"] == "mariadb"
    assert cfg["dblibrary"] == "native"
    assert cfg["dbhost"] == "db.internal"
    assert cfg["dboptions"]["dbport"] == "3307"
    assert cfg["dboptions"]["dbpersist"] == 1
    assert (cfg["dbname"], cfg["dbuser"], cfg["dbpass"], cfg["prefix"]) == \
        ("alphadb", "alphauser", "alpha-secret", "al_")
    assert cfg["wwwroot"] == "http://alpha.test"
    assert cfg["dataroot"] == "/srv/moodledata/alpha"
    assert cfg["admin"] == "admin"
    assert cfg["directorypermissions"] == 0o2777
    assert cfg["sessioncookie"] == "alpha1"
    assert cfg["reverseproxy"] is False
    assert cfg["mainwwwroot"] == "http://moodle.example.edu"


def test_master_from_its_variables(start_httpd):
    server = start(start_httpd, setenv_for_host("moodle.example.edu", MASTER),
                   setenv_for_host("bare.test", {"VMOODLE_MASTER": "1"}))
    server.expect_error("refusing to boot")
    report = client.get(server.port, "moodle.example.edu", "/index.php").json()
    assert report["server"] == MASTER
    cfg = report["cfg"]
    assert (cfg["wwwroot"], cfg["dbname"], cfg["dbhost"], cfg["dataroot"]) == \
        ("http://moodle.example.edu", "moodle", "dbmaster", "/var/moodledata")
    assert (cfg["dbuser"], cfg["dbpass"], cfg["dboptions"]["dbport"]) == \
        ("moodleuser", "master-secret", "5433")
    assert "sessioncookie" not in cfg
    # config.php has no settings of its own for the master to fall back on
    assert_refused(server, "bare.test")
    assert cfg["mainwwwroot"] == "http://moodle.example.edu"   # as VMoodle sets it


def assert_refused(server, host):
    resp = client.get(server.port, host, "/index.php")
    assert resp.status == 500
    assert "Site unavailable" in resp.text
    # Nothing of the master's configuration, nothing of lib/setup.php.
    for leak in ("moodle.example.edu", "localhost", "/var/moodledata", '"cfg"'):
        assert leak not in resp.text


def test_no_instance_refuses_to_boot(start_httpd):
    server = start(start_httpd, setenv_for_host("alpha.test", INSTANCE))
    server.expect_error("refusing to boot")   # php-fpm's message via proxy_fcgi
    assert_refused(server, "nowhere.test")
    assert client.get(server.port, "alpha.test", "/index.php").status == 200


def test_incomplete_or_conflicting_instance_refuses(start_httpd):
    partial = {k: v for k, v in INSTANCE.items() if k != "VMOODLE_DATAROOT"}
    both = dict(INSTANCE, VMOODLE_MASTER="1")
    bad_type = dict(INSTANCE, VMOODLE_DBTYPE="oracle")
    server = start(start_httpd, setenv_for_host("partial.test", partial),
                   setenv_for_host("both.test", both),
                   setenv_for_host("badtype.test", bad_type))
    server.expect_error("refusing to boot")
    for host in ("partial.test", "both.test", "badtype.test"):
        assert_refused(server, host)
