"""The floor server of the admission benchmark, run as `make bench` runs it.

Real process, real HTTPS: the benchmark's ratio is only meaningful if the floor answers a review
correctly (the harness checks that too before any load).
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from bench import bodies, procs
from bench.admission import check_patch, make_certificates
from demo.openbao import free_port


def test_the_floor_answers_a_review_for_its_uid(tmp_path: Path) -> None:
    ca, cert, key = make_certificates(tmp_path / "certs")
    port = free_port()
    argv = [sys.executable, "-m", "bench.floor", "--port", str(port)]
    argv += ["--tls-cert", str(cert), "--tls-key", str(key)]
    floor = procs.spawn("floor", argv, tmp_path / "floor.log")
    try:
        context = procs.client_context(ca)
        procs.wait_ready(floor, port, context)
        review = bodies.BODIES["portworx-daemonset"]()
        status, payload = procs.https_request(
            port, context, "POST", "/mutate", bodies.dumps(review)
        )
        problem, ops = check_patch(status, payload, review["request"]["uid"])
        assert problem is None
        assert ops == 1
        assert orjson.loads(payload)["response"]["allowed"] is True
    finally:
        assert floor.stop() == 0
