"""Any Moodle CLI script for one site, or for many, through vmoodlectl: each
site's own environment, so each answers with its own settings."""
from fleetctl import summary, vmoodlectl

NAME = "vmoodle_fleet_test"


def cfg(fleet, site, *args):
    host = "--master" if site.is_master else site.host
    return vmoodlectl(fleet, "run", host, "--", "admin/cli/cfg.php", *args)


def test_run_cfg_on_one_site_sets_and_reads_that_sites_value(fleet):
    site1, site2 = fleet.sites["site1"], fleet.sites["site2"]
    try:
        for site in (site1, site2):
            proc = cfg(fleet, site, f"--name={NAME}", f"--set=value of {site.name}")
            assert proc.returncode == 0, proc.stdout + proc.stderr
        for site in (site1, site2):
            proc = cfg(fleet, site, f"--name={NAME}")
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip() == f"value of {site.name}"
            stored = fleet.sql(site, f"SELECT value FROM {{p}}config WHERE name = '{NAME}'")
            assert stored.strip() == f"value of {site.name}"
        # cfg.php's own exit code comes through: 3 for an unknown name.
        missing = cfg(fleet, site1, "--name=no_such_setting_here")
        assert missing.returncode == 3, missing.stdout + missing.stderr
    finally:
        vmoodlectl(fleet, "config", site1.host, site2.host, "--name", NAME, "--unset")
    assert cfg(fleet, site1, f"--name={NAME}").returncode == 3


def test_config_on_every_site_reads_each_sites_wwwroot(fleet):
    proc = vmoodlectl(fleet, "config", "--all", "--master", "--jobs", 2,
                      "--name", "wwwroot")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    served = [s for s in fleet.sites.values() if s.enabled]
    assert summary(proc.stdout) == {("master" if s.is_master else s.host):
                                    ("ok", "0", s.wwwroot) for s in served}
