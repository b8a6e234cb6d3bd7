"""Admission time against object size, measured in-process (no HTTP, no TLS, no scheduler noise).

Two costs per size: the pure mutator (`webhook.core.mutation.build_mutator` on the built-in
profiles), and the whole review path the HTTP view runs (``parse_review`` -> ``decide`` ->
``build_response`` -> ``dump``), which adds JSON parsing and serialisation that grow with the body.
Each figure is the best of several timed batches (like ``timeit``): the least disturbed estimate
on a shared machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from bench import bodies
from bench.report import Growth, Row, describe_growth, format_grid, growth, number, verdict

Say = Callable[[str], None]

CONTAINERS: Final = (1, 8, 64)
VOLUMES: Final = (1, 16, 128)
BATCHES: Final = 5


def per_call(fn: Callable[[], Any], min_time: float) -> float:
    """Seconds per call of ``fn``: the best of `BATCHES` batches of about ``min_time / BATCHES``."""
    target = min_time / BATCHES
    count = 1
    while True:
        started = time.perf_counter()
        for _ in range(count):
            fn()
        took = time.perf_counter() - started
        if took >= target or count >= 1_000_000:
            break
        count = max(count * 2, int(count * target / max(took, 1e-9)))
    best = took / count
    for _ in range(BATCHES - 1):
        started = time.perf_counter()
        for _ in range(count):
            fn()
        best = min(best, (time.perf_counter() - started) / count)
    return best


@dataclass
class Point:
    containers: int
    volumes: int
    body_bytes: int
    ops: int
    mutator_s: float
    review_s: float


@dataclass
class ScalingResult:
    containers: list[Point] = field(default_factory=list)
    volumes: list[Point] = field(default_factory=list)
    error: str | None = None


def run(min_time: float, say: Say) -> ScalingResult:
    """Time both axes; an import or mutation failure is recorded, not raised."""
    result = ScalingResult()
    try:
        from webhook.admission import review as rv
        from webhook.core.config import load_config
        from webhook.core.model import AdmissionContext
        from webhook.core.mutation import build_mutator
    except ImportError as exc:
        result.error = f"webhook modules not importable: {exc}"
        return result
    mutator = build_mutator(load_config(None))
    ctx = AdmissionContext(
        operation="CREATE",
        namespace=bodies.SCALING_NAMESPACE,
        group="",
        version="v1",
        kind="Pod",
        assume_namespace_enabled=True,
    )

    def point(containers: int, volumes: int) -> Point:
        pod = bodies.scaling_pod(containers, volumes)
        ops = len(mutator(pod, ctx).ops)
        if not ops:
            raise ValueError(f"no patch for {containers} containers x {volumes} volumes")
        body = bodies.dumps(bodies.scaling_review(containers, volumes))

        def whole() -> bytes:
            review = rv.parse_review(body)
            res = rv.decide(review, mutator)
            return rv.dump(rv.build_response(review.uid, res.ops, res.warnings))

        return Point(
            containers,
            volumes,
            len(body),
            ops,
            per_call(lambda: mutator(pod, ctx), min_time),
            per_call(whole, min_time),
        )

    try:
        result.containers = [point(n, 1) for n in CONTAINERS]
        result.volumes = [point(1, n) for n in VOLUMES]
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    cells = [
        [
            str(p.containers),
            str(p.volumes),
            str(p.body_bytes),
            str(p.ops),
            f"{p.mutator_s * 1e6:.1f}",
            f"{p.review_s * 1e6:.1f}",
        ]
        for p in result.containers + result.volumes
    ]
    headers = ["containers", "volumes", "body bytes", "patch ops", "mutator us", "review path us"]
    say(format_grid(headers, cells))
    return result


def _growths(points: list[Point], axis: str) -> tuple[Growth, Growth]:
    sizes = [p.containers if axis == "containers" else p.volumes for p in points]
    return (
        growth(sizes, [p.mutator_s for p in points]),
        growth(sizes, [p.review_s for p in points]),
    )


def rows(result: ScalingResult) -> list[Row]:
    """Linearity verdicts for both axes (mutator only, and the whole review path)."""
    if result.error is not None:
        return [
            Row(
                "admission time vs object size",
                "not measured",
                "close to linear",
                "ERROR",
                result.error[:120],
            )
        ]
    out = []
    for axis, points in (("containers", result.containers), ("volumes", result.volumes)):
        mut, whole = _growths(points, axis)
        for label, g in (("mutator", mut), ("review path", whole)):
            out.append(
                Row(
                    f"admission {label} time vs {axis}",
                    describe_growth(g, "us", 1e6),
                    "close to linear",
                    verdict(g.linear),
                    f"per {axis[:-1]}: {number(g.per_item[0] * 1e6)} -> "
                    f"{number(g.per_item[-1] * 1e6)} us",
                )
            )
    return out
