"""The objects the CEL tests of the webhook configuration start from, and the mutator's verdict.

The corpus (the golden reviews' objects, the fixtures under ``objects/``, and the shared reference
folder's real objects when this checkout has it beside it) and its variants, loaded as a request
carries them, and what `webhook.core.mutation` makes of each: the test of the matchConditions
holds the conditions to never leave out an object the mutator changes.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.integration.manifests.conftest import REPO, Obj
from webhook.core.config import load_config
from webhook.core.model import AdmissionContext, MutationResult
from webhook.core.mutation import build_mutator
from webhook.core.profiles import Config, default_config

GOLDEN = REPO / "tests" / "golden"
OBJECTS = Path(__file__).resolve().parent / "objects"
KINDS = {
    "Pod": ("", "v1", "pods"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "StorageCluster": ("core.libopenstorage.org", "v1", "storageclusters"),
}
"""Kind -> (group, version, resource) of what the webhook configuration has rules for."""
NOT_STORAGE = ("portworx-api",)
"""Names of the reference folder's objects that are no storage object (the pause container)."""


def real_world() -> Path | None:
    """The shared reference folder of real objects (its SOURCES.md says where each comes from),
    when this checkout has one beside it (or ``VSI_REAL_WORLD`` names it)."""
    configured = os.environ.get("VSI_REAL_WORLD")
    candidates = (
        [Path(configured)]
        if configured
        else [root / "shared" / "reference" / "real-world" for root in REPO.parents[:2]]
    )
    return next((c.resolve() for c in candidates if (c / "SOURCES.md").is_file()), None)


REAL_WORLD = real_world()


def load(path: Path) -> Obj:
    """The object of a YAML file as a request carries it: the API server decodes metadata into
    its typed form, so an empty ``annotations:`` (null) arrives as no annotations at all."""
    loaded: Obj = json.loads(json.dumps(yaml.safe_load(path.read_text())))
    meta = loaded.get("metadata") or {}
    loaded["metadata"] = {k: v for k, v in meta.items() if v is not None}
    return loaded


def reference_objects() -> list[Path]:
    if REAL_WORLD is None:
        return []
    return sorted(p for p in REAL_WORLD.glob("*.yaml") if load(p).get("kind") in KINDS)


def mutates(config: Config, obj: Obj, operation: str) -> bool:
    return mutation(config, obj, operation).outcome == "mutated"


def mutation(config: Config, obj: Obj, operation: str) -> MutationResult:
    group, version, _ = KINDS[obj["kind"]]
    ctx = AdmissionContext(
        operation=operation,
        namespace=str(obj["metadata"].get("namespace", "")),
        group=group,
        version=version,
        kind=obj["kind"],
        webhook_namespace="vault-storage-injector",
    )
    return build_mutator(config)(obj, ctx)


def corpus() -> Iterator[Obj]:
    """The objects the differential test starts from: the goldens', the fixtures, the
    reference folder's."""
    for case in sorted(GOLDEN.iterdir()):
        if (case / "request.json").exists():
            obj = json.loads((case / "request.json").read_text())["request"]["object"]
            if obj and obj.get("kind") in KINDS:
                yield obj
    for path in sorted(OBJECTS.glob("*/*.yaml")):
        yield load(path)
    for path in reference_objects():
        yield load(path)


def variants(obj: Obj) -> Iterator[Obj]:
    """``obj``, and it without each label, annotation and volume (one at a time), without all of
    them, and with each annotation that asks for or refuses the webhook."""
    yield obj
    meta, spec = obj["metadata"], pod_spec(obj)
    for field in ("labels", "annotations"):
        for key in meta.get(field) or {}:
            other = copy.deepcopy(obj)
            del other["metadata"][field][key]
            yield other
        other = copy.deepcopy(obj)
        other["metadata"].pop(field, None)
        yield other
    for index in range(len(spec.get("volumes") or [])):
        other = copy.deepcopy(obj)
        del pod_spec(other)["volumes"][index]
        yield other
    for key, value in (("inject", "true"), ("inject", "false"), ("profile", "rook-osd")):
        other = copy.deepcopy(obj)
        other["metadata"].setdefault("annotations", {})[f"vault-storage-injector.io/{key}"] = value
        yield other


def pod_spec(obj: Obj) -> Obj:
    if obj["kind"] == "Pod":
        spec: Obj = obj.setdefault("spec", {})
        return spec
    if obj["kind"] == "DaemonSet":
        template: Obj = obj["spec"]["template"]["spec"]
        return template
    return {}


def configs() -> list[Config]:
    found = [default_config()]
    found += [load_config(str(p)) for p in sorted(GOLDEN.glob("*/config.yaml"))]
    return found
