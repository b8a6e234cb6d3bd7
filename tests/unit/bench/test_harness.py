"""The benchmark harness's pure parts: wrk output parsing, verdicts, tables and the bodies it sends.

Nothing here times anything; the benchmark itself runs with ``make bench``.
"""

from __future__ import annotations

import base64

import orjson
import pytest

from bench import bodies
from bench.admission import check_patch
from bench.load import WrkError, parse_output, parse_text
from bench.report import Row, format_table, growth, markdown_table

WRK_REPORT = """\
Running 5s test @ https://127.0.0.1:8443/mutate
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  802.11us  21.30ms   91.02%
    Req/Sec     5.40k   312.77     6.01k    72.00%
  Latency Distribution
     50%  850.00us
     75%    1.62ms
     90%    2.10ms
     99%    1.20s
  53760 requests in 5.00s, 31.20MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  10748.42
Transfer/sec:      6.24MB
"""


def test_parse_text_reads_rate_percentiles_in_any_unit_and_errors() -> None:
    result = parse_text(WRK_REPORT)
    assert result.rps == pytest.approx(10748.42)
    assert result.p50_ms == pytest.approx(0.85)
    assert result.p99_ms == pytest.approx(1200.0)
    assert (result.requests, result.seconds) == (53760, pytest.approx(5.0))
    assert (result.non_2xx, result.socket_errors) == (7, 3)
    assert not result.ok


def test_parse_text_without_latency_distribution_is_an_error() -> None:
    without = "\n".join(line for line in WRK_REPORT.splitlines() if "%" not in line)
    with pytest.raises(WrkError, match="--latency"):
        parse_text(without)


def test_parse_output_prefers_the_lua_summary_line() -> None:
    line = (
        'BENCH_JSON {"requests":1000,"duration_us":2000000,"bytes":1,"errors_connect":0,'
        '"errors_read":0,"errors_write":0,"errors_status":0,"errors_timeout":0,'
        '"p50_us":1500,"p90_us":2000,"p99_us":4200,"max_us":9000,"mean_us":1600.0}'
    )
    result = parse_output(WRK_REPORT + line + "\n")
    assert result.rps == pytest.approx(500.0)
    assert (result.p50_ms, result.p99_ms) == (pytest.approx(1.5), pytest.approx(4.2))
    assert result.ok


def test_growth_accepts_a_line_with_fixed_cost_and_flags_a_quadratic() -> None:
    sizes = [1, 8, 64]
    assert growth(sizes, [10 + 2 * n for n in sizes]).linear
    assert growth(sizes, [100.0, 100.0, 100.0]).linear
    noisy_start = growth([1, 8, 32, 128], [358.0, 346.0, 455.0, 733.0])
    assert noisy_start.linear
    quadratic = growth(sizes, [10 + 0.5 * n * n for n in sizes])
    assert not quadratic.linear
    assert quadratic.ratios[0] == 1.0


def test_format_table_aligns_columns_without_trailing_spaces() -> None:
    rows = [
        Row("throughput", "0.91x", ">= 0.8x", "PASS"),
        Row("p99 of a longer target", "7.10 ms", "<= 5 ms", "MISS", "noisy"),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["target", "measured", "limit", "result", "note"]
    assert len({line.index(">=") for line in lines if ">=" in line} | {lines[3].index("<=")}) == 1
    assert all(line == line.rstrip() for line in lines)
    assert "| p99 of a longer target | 7.10 ms | <= 5 ms | **MISS** | noisy |" in markdown_table(
        rows
    )


def _answer(uid: str, ops: list[dict[str, object]] | None) -> bytes:
    response: dict[str, object] = {"uid": uid, "allowed": True}
    if ops is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(ops)).decode()
    return orjson.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
    )


def test_check_patch_accepts_only_a_non_empty_patch_for_the_same_uid() -> None:
    op = {"op": "add", "path": "/metadata/annotations", "value": {}}
    assert check_patch(200, _answer("u1", [op]), "u1") == (None, 1)
    assert "no patch" in str(check_patch(200, _answer("u1", None), "u1")[0])
    assert "empty" in str(check_patch(200, _answer("u1", []), "u1")[0])
    assert "uid" in str(check_patch(200, _answer("u2", [op]), "u1")[0])
    assert "HTTP 400" in str(check_patch(400, b"bad", "u1")[0])


@pytest.mark.parametrize(
    ("name", "low", "high"), [("portworx-daemonset", 2500, 4500), ("rook-osd-pvc", 7000, 11000)]
)
def test_bodies_are_admission_reviews_of_the_advertised_size(
    name: str, low: int, high: int
) -> None:
    data = bodies.dumps(bodies.BODIES[name]())
    assert low <= len(data) <= high
    review = orjson.loads(data)
    request = review["request"]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert request["operation"] == "CREATE"
    assert request["oldObject"] is None
    assert request["dryRun"] is False
    assert request["kind"] == request["requestKind"]


def test_rook_body_has_the_osd_key_volume_and_init_containers() -> None:
    pod = bodies.rook_osd_pod()
    assert pod["metadata"]["labels"]["ceph.rook.io/pvc"] == bodies.ROOK_PVC
    key = next(v for v in pod["spec"]["volumes"] if v["name"] == "osd-encryption-key")
    assert key["secret"]["items"] == [{"key": "dmcrypt-key", "path": "luks_key"}]
    names = [c["name"] for c in pod["spec"]["initContainers"]]
    assert names[:2] == ["blkdevmapper", "encryption-open"]
    assert names[-1] == "chown-container-data-dir"
