"""`vsi-webhook mutate`: the server's mutation, offline, so an admin sees every change beforehand.

Reads one or more objects (multi-document YAML or JSON, ``-`` for stdin), runs the very mutator the
HTTPS server runs (operation CREATE, namespace treated as opted in) and prints the mutated objects,
the JSON Patch or a unified diff. With ``--pods-only`` a DaemonSet or StorageCluster is
previewed as the Pod its controller creates (`webhook.core.controllers`), which is what that
mode mutates. Without ``--cluster`` there are no cluster caches (no Secret
warnings; the TLS files the profile declares); with a snapshot (`webhook.core.snapshot`) the
preview sees what the caches would. Skips and warnings go to stderr. Bad input is a one-line
`UsageError` naming the document (exit code 2, mapped by `webhook.cli`).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import jsonpatch
import yaml

from vsi_common import safeyaml
from webhook.core import constants as c
from webhook.core.config import load_config
from webhook.core.constants import STORAGE_CLUSTER_KIND
from webhook.core.controllers import TEMPLATE_KINDS, daemonset_pod, operator_pod, template_pod
from webhook.core.model import AdmissionContext, MutationResult, Mutator
from webhook.core.mutation import build_mutator
from webhook.core.snapshot import Snapshot, parse_snapshot
from webhook.errors import UsageError

OUTPUTS = ("yaml", "json", "patch", "diff")
"""Values of ``-o``."""
DEFAULT_NAMESPACE = "default"
"""Namespace of an object that names none when ``-n`` is not given (as kubectl)."""


@dataclass(frozen=True)
class Document:
    """One input object and where it came from (for messages)."""

    label: str
    obj: dict[str, Any]


def add_parser(sub: Any) -> None:
    """Register ``mutate`` on the ``vsi-webhook`` subcommands."""
    parser = sub.add_parser(
        "mutate",
        help="preview the mutation of objects offline",
        description=(
            "Apply the webhook's mutation to the objects in FILE (operation CREATE, namespace "
            "treated as opted in) and print the result."
        ),
    )
    parser.add_argument(
        "-f", "--filename", required=True, metavar="FILE", help="YAML or JSON; - reads stdin"
    )
    parser.add_argument(
        "-n", "--namespace", metavar="NS", help="request namespace (default: the object's)"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="profiles file (default: built-in profiles)"
    )
    parser.add_argument(
        "--cluster",
        metavar="SNAPSHOT",
        help="Namespaces and Secrets (YAML/JSON; only key names are read) the caches would hold",
    )
    parser.add_argument("-o", "--output", choices=OUTPUTS, default="yaml", help="what to print")
    parser.add_argument(
        "--pods-only",
        action="store_true",
        help="pods-only mode: preview a DaemonSet or StorageCluster as the Pod it creates",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``vsi-webhook mutate`` (argparse namespace in, exit code out)."""
    return mutate(
        filename=args.filename,
        namespace=args.namespace,
        config_path=args.config,
        cluster_path=args.cluster,
        output=args.output,
        stdout=sys.stdout,
        stderr=sys.stderr,
        pods_only=args.pods_only,
    )


def mutate(
    *,
    filename: str,
    namespace: str | None,
    config_path: str | None,
    output: str,
    stdout: TextIO,
    stderr: TextIO,
    stdin: TextIO | None = None,
    cluster_path: str | None = None,
    pods_only: bool = False,
) -> int:
    """Read, mutate and print; raises `UsageError` for bad input or config. ``pods_only``:
    DaemonSets and StorageClusters are previewed as the Pods their controllers create."""
    if output not in OUTPUTS:
        raise UsageError(f"-o: expected one of {', '.join(OUTPUTS)}")
    if filename == "-" and cluster_path == "-":
        raise UsageError("-f and --cluster cannot both read stdin")
    config = load_config(config_path)
    cluster = _snapshot(cluster_path, stdin or sys.stdin) if cluster_path is not None else None
    text, source = _read(filename, stdin or sys.stdin)
    documents = parse_documents(text, source)
    if pods_only:
        documents = [_as_pod(doc, stderr) for doc in documents]
    mutator = build_mutator(config)
    results: list[tuple[Document, MutationResult, dict[str, Any]]] = []
    for doc in documents:
        ctx = _context(doc, namespace, cluster)
        result = mutator(doc.obj, ctx)
        if result.reason in _NOT_FOR_THE_WORKLOAD and doc.obj["kind"] in TEMPLATE_KINDS:
            doc, result = _template_preview(
                doc, result, mutator, lambda d: _context(d, namespace, cluster), stderr
            )
        for warning in result.warnings:
            print(f"vsi-webhook: warning: {doc.label}: {warning}", file=stderr)
        if result.outcome == "skipped":
            fix = REASON_FIXES.get(result.reason, "")
            said = f"; fix: {fix}" if fix else ""
            print(f"vsi-webhook: {doc.label}: unchanged ({result.reason}){said}", file=stderr)
        mutated = jsonpatch.apply_patch(doc.obj, list(result.ops)) if result.ops else doc.obj
        results.append((doc, result, mutated))
    stdout.write(_render(results, output))
    return 0


def _read(filename: str, stdin: TextIO) -> tuple[str, str]:
    """The text of FILE (``-``: stdin), refused past `safeyaml.MAX_BYTES` before it is all read."""
    source = "<stdin>" if filename == "-" else filename
    try:
        if filename == "-":
            text = stdin.read(safeyaml.MAX_BYTES + 1)
        else:
            with Path(filename).open(encoding="utf-8") as file:
                text = file.read(safeyaml.MAX_BYTES + 1)
        safeyaml.check_size(text)
    except safeyaml.YamlLimit as exc:
        raise UsageError(f"{source}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{filename}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{filename}: not UTF-8 text") from None
    return text, source


def parse_documents(text: str, source: str) -> list[Document]:
    """Objects from multi-document YAML or JSON (a ``List`` or a JSON array is expanded)."""
    out: list[Document] = []
    index = 0
    try:
        for index, raw in enumerate(safeyaml.load_all(text), start=1):
            if raw is None:
                continue
            items: list[Any] = raw if isinstance(raw, list) else [raw]
            if isinstance(raw, Mapping) and raw.get("kind") in ("List", "AdmissionReview"):
                items = _unwrap(raw)
            for item in items:
                out.append(_document(item, f"{source}: document {index}"))
    except safeyaml.YamlLimit as exc:
        raise UsageError(f"{source}: document {index + 1}: refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise UsageError(
            f"{source}: document {index + 1}: invalid YAML{where}: {problem}"
        ) from None
    if not out:
        raise UsageError(f"{source}: no objects found")
    return out


def _unwrap(raw: Mapping[str, Any]) -> list[Any]:
    """The objects of a ``List``, or the ``request.object`` of an AdmissionReview."""
    if raw.get("kind") == "List":
        items = raw.get("items")
        return items if isinstance(items, list) else []
    request = raw.get("request")
    obj = request.get("object") if isinstance(request, Mapping) else None
    return [obj] if obj is not None else []


def _document(item: Any, where: str) -> Document:
    if not isinstance(item, Mapping):
        raise UsageError(f"{where}: expected a Kubernetes object (a mapping)")
    kind = item.get("kind")
    if not isinstance(kind, str) or not kind:
        raise UsageError(f"{where}: object has no kind")
    api_version = item.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        raise UsageError(f"{where}: object has no apiVersion")
    meta = item.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    label = f"{kind}/{name}" if isinstance(name, str) and name else where
    return Document(label, json.loads(json.dumps(item, default=str)))


REASON_FIXES: Final = {
    c.SKIP_NO_PROFILE: (
        f"name a configured profile in {c.ANNOTATION_PROFILE}, or annotate a Pod with PVCs "
        f'{c.ANNOTATION_INJECT}: "true"'
    ),
    c.SKIP_ANNOTATION_VALUE: f'set {c.ANNOTATION_INJECT} to "true" (opt in) or "false" (opt out)',
    c.SKIP_NO_PVC_VOLUMES: "add a persistentVolumeClaim volume: volume-keys gives one key per PVC",
    c.SKIP_UNKNOWN_PROFILE: f"name a profile of --config in {c.ANNOTATION_PROFILE}",
    c.SKIP_NAMESPACE_NOT_ENABLED: (
        f"kubectl label namespace <namespace> {c.LABEL_ENABLED}={c.ENABLED_VALUE}"
    ),
    c.SKIP_OPTED_OUT: f'remove {c.ANNOTATION_INJECT}: "false" to let the webhook in',
    c.SKIP_CONFLICT: "remove the conflicting setting the warning names",
    c.SKIP_MALFORMED: "fix the field the warning names",
    c.SKIP_UNEXPECTED_SHAPE: "compare with the Rook version docs/profiles.md names",
}
"""What to change for each reason an object is left unchanged (none: nothing to fix)."""


_NOT_FOR_THE_WORKLOAD: Final = (c.SKIP_KIND_NOT_HANDLED, c.SKIP_NO_PROFILE)
"""Reasons a workload is left alone that say nothing about its Pods: those are previewed."""


def _template_preview(
    doc: Document,
    result: MutationResult,
    mutator: Mutator,
    context: Callable[[Document], AdmissionContext],
    stderr: TextIO,
) -> tuple[Document, MutationResult]:
    """A workload the webhook leaves alone is previewed as the Pods its controller creates."""
    pod = template_pod(doc.obj)
    if pod is None:
        return doc, result
    kind = doc.obj["kind"]
    print(
        f"vsi-webhook: {doc.label}: the cluster mutates the Pods, not the {kind}; previewing "
        "its pod template as its Pods will be mutated",
        file=stderr,
    )
    as_pod = Document(f"{doc.label} (pod template)", pod)
    return as_pod, mutator(pod, context(as_pod))


def _as_pod(doc: Document, stderr: TextIO) -> Document:
    """In pods-only mode a DaemonSet or StorageCluster is not mutated: the Pod it creates is."""
    kind = doc.obj["kind"]
    if kind not in ("DaemonSet", STORAGE_CLUSTER_KIND):
        return doc
    made = daemonset_pod(doc.obj) if kind == "DaemonSet" else operator_pod(doc.obj)
    what = "the Pod" if kind == "DaemonSet" else "the parts the webhook reads of the Pod"
    print(
        f"vsi-webhook: {doc.label}: pods-only mode: the {kind} is not mutated; previewing "
        f"{what} its controller creates",
        file=stderr,
    )
    return Document(f"{doc.label} (its Pod)", made)


def _snapshot(path: str, stdin: TextIO) -> Snapshot:
    """The ``--cluster`` file: YAML or JSON Namespaces and Secrets, or the compact form."""
    text, source = _read(path, stdin)
    source = f"--cluster {source}"
    try:
        documents = list(safeyaml.load_all(text))
    except safeyaml.YamlLimit as exc:
        raise UsageError(f"{source}: refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{source}: invalid YAML{where}") from None
    return parse_snapshot(documents, source)


def _context(doc: Document, namespace: str | None, cluster: Snapshot | None) -> AdmissionContext:
    group, _, version = doc.obj["apiVersion"].rpartition("/")
    meta = doc.obj.get("metadata")
    own = meta.get("namespace") if isinstance(meta, Mapping) else None
    if namespace and isinstance(own, str) and own and own != namespace:
        raise UsageError(f"{doc.label}: namespace {own!r} does not match -n {namespace!r}")
    ns = namespace or (own if isinstance(own, str) and own else DEFAULT_NAMESPACE)
    return AdmissionContext(
        operation="CREATE",
        namespace=ns,
        group=group,
        version=version,
        kind=doc.obj["kind"],
        dry_run=True,
        cluster=cluster,
        assume_namespace_enabled=True,
    )


def _render(results: Sequence[tuple[Document, MutationResult, dict[str, Any]]], output: str) -> str:
    several = len(results) > 1
    if output == "json":
        objs = [mutated for _, _, mutated in results]
        return json.dumps(objs if several else objs[0], indent=2) + "\n"
    if output == "patch":
        patches = [list(result.ops) for _, result, _ in results]
        return json.dumps(patches if several else patches[0], indent=2) + "\n"
    if output == "yaml":
        return yaml.safe_dump_all(
            [mutated for _, _, mutated in results], sort_keys=False, default_flow_style=False
        )
    chunks: list[str] = []
    for doc, _, mutated in results:
        before = _yaml(doc.obj).splitlines(keepends=True)
        after = _yaml(mutated).splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(before, after, f"a/{doc.label}", f"b/{doc.label}"))
    return "".join(chunks)


def _yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)
