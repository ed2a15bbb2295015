"""The status page and the metrics page at 100,000 instances: paged,
searchable, a summary for monitors, each answer bounded in size."""
import pytest

import client
import prom
from apache import eventually
from instances import instance

N = 100000
EXTRA = """
<Location /vmoodle-metrics>
    SetHandler vmoodle-metrics
    Require ip 127.0.0.1
</Location>
VMoodleMetricsMaxSites 1000
RewriteEngine On
RewriteRule "^/boom$" "-" [R=500]
"""


@pytest.fixture(scope="module")
def flavour():
    """One MPM is enough: the page is the same code under both."""
    return "event-fpm"


def rows():
    return [instance(i, f"site{i}.example.edu", enabled=0 if i % 10 == 0 else 1)
            for i in range(1, N + 1)]


def get(server, path):
    resp = client.get(server.port, "127.0.0.1", path)
    assert "secret" not in resp.text
    return resp


def test_pages_search_and_summary_at_100000(start_vmoodle):
    server = start_vmoodle(rows(), extra=EXTRA, refresh=3600)
    first = get(server, "/vmoodle-status?json")
    assert first.status == 200
    assert len(first.body) < 256 * 1024
    status = first.json()
    assert (status["count"], status["matched"], status["pages"]) == (N, N, 1000)
    assert [i["id"] for i in status["instances"]] == list(range(1, 101))

    last = get(server, "/vmoodle-status?json&page=2000&per_page=50").json()
    assert [i["id"] for i in last["instances"]] == list(range(N - 49, N + 1))
    assert get(server, "/vmoodle-status?json&per_page=5000").status == 400
    assert get(server, "/vmoodle-status?json&page=0").status == 400

    found = get(server, "/vmoodle-status?json&q=SITE77777.").json()
    assert found["matched"] == 1 and found["instances"][0]["id"] == 77777

    html = get(server, "/vmoodle-status?q=site4242&page=1")
    assert html.status == 200 and len(html.body) < 256 * 1024
    assert "site4242.example.edu" in html.text and "page 1 of 1" in html.text
    assert "site4243.example.edu" not in html.text
    odd = get(server, "/vmoodle-status?q=%3Cb%3Esite1%26x&per_page=5")
    assert "<b>" not in odd.text and 'value="&lt;b&gt;site1&amp;x"' in odd.text
    paged = get(server, "/vmoodle-status?q=site1&per_page=5&page=2").text
    assert 'href="?page=3&amp;per_page=5&amp;q=site1"' in paged
    assert 'href="?page=1&amp;per_page=5&amp;q=site1"' in paged

    for host, count in (("site5.example.edu", 3), ("site9.example.edu", 1)):
        for _ in range(count):
            assert client.get(server.port, host, "/boom").status == 500
    # counted after the answer (log_transaction): the last one may lag
    summary = eventually(lambda: get(server, "/vmoodle-status?summary"),
                         lambda r: [w["5xx"] for w in r.json()["most_5xx"]] == [3, 1],
                         10, "both sites' 5xx counted")
    assert len(summary.body) < 16 * 1024
    s = summary.json()
    assert (s["count"], s["enabled"], s["disabled"]) == (N, N - N // 10, N // 10)
    assert s["cron_overdue"] == N - N // 10          # none has ever run
    assert len(s["most_overdue_cron"]) == 10
    assert [(w["id"], w["5xx"]) for w in s["most_5xx"]][:2] == [(5, 3), (9, 1)]

    metrics = get(server, "/vmoodle-metrics")
    assert metrics.status == 200 and len(metrics.body) < 4 * 1024 * 1024
    samples = prom.parse(metrics.text)
    assert prom.value(samples, "vmoodle_metrics_sites_listed") == 1000
    assert prom.value(samples, "vmoodle_metrics_sites_omitted") == N - 1000
    assert prom.value(samples, "vmoodle_table_sites") == N
    one = prom.parse(get(server, "/vmoodle-metrics?site=site5").text)
    assert prom.value(one, "vmoodle_site_requests_total", site="site5",
                      host="site5.example.edu", **{"class": "5xx"}) == 3
