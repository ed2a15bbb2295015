"""The routing configurations compared, as Apache config fragments.  Each
one answers the same 3-byte file and echoes the routed value in X-Routed."""
import os

ERROR_PAGES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "templates", "errors")

CEILING = """\
# (a) no routing: the ceiling.
Header set X-Routed "-"
"""

VMOODLE = """\
# (b) mod_vmoodle
VMoodleEngine On
VMoodleSource "{source}"
VMoodleSnapshot "{snapshot}"
VMoodleRefresh {refresh}
VMoodleErrorPages "{pages}"
"""
VMOODLE_ECHO = 'Header set X-Routed "%{VMOODLE_SHORTNAME}e"\n'

# (c), (d): what an administrator writes today with mod_rewrite; an unknown
# host gets 404 as with mod_vmoodle.
REWRITE_MAP = """\
# ({letter}) mod_rewrite RewriteMap {kind}:
RewriteEngine On
RewriteMap hosts "{kind}:{path}"
RewriteCond "${{hosts:%{{SERVER_NAME}}}}" "^(.+)$"
RewriteRule "^" "-" [E=ROUTED:%1]
RewriteCond "%{{ENV:ROUTED}}" "^$"
RewriteRule "^" "-" [R=404]
Header set X-Routed "%{{ROUTED}}e" env=ROUTED
"""


def ceiling():
    return CEILING


def vmoodle(source, snapshot, refresh=60, echo=True):
    """source as VMoodleSource takes it (json:/path, pgsql:...); echo=False
    when the page itself names what it was routed to."""
    site = VMOODLE.format(source=source, snapshot=snapshot, refresh=refresh,
                          pages=ERROR_PAGES)
    return site + (VMOODLE_ECHO if echo else "")


def rewrite_dbm(path):
    return REWRITE_MAP.format(letter="c", kind="dbm", path=path)


def rewrite_txt(path):
    return REWRITE_MAP.format(letter="d", kind="txt", path=path)
