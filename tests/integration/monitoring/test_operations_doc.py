"""docs/operations.md is true to the rules, and its queries work.

Every alert has a section named after it, which its runbook_url points at and which says what to
look at and what to do; the alerts table gives each alert's severity and `for` as the rules do;
the PromQL of the page uses only what the webhook and kube-state-metrics export; the one
`kubectl` query that finds every failing injector runs, with the real kubectl, against an API
server double that lists pods in every state an injector can be in.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.integration.manifests.conftest import REPO, kubectl
from tests.integration.monitoring.conftest import (
    OPERATIONS,
    RUNBOOK_BASE,
    alert_names,
    rules,
    selectors,
    source_rule,
)
from tests.integration.monitoring.test_names import KSM, used_names

SECTION_PARTS = ("**What to look at.**", "**What to do.**")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def sections(text: str) -> dict[str, str]:
    """Heading text -> its body, for every ``##`` and ``###`` heading."""
    found: dict[str, str] = {}
    parts = re.split(r"^(#{2,3}) (.+)$", text, flags=re.M)
    for index in range(1, len(parts) - 1, 3):
        found[parts[index + 1].strip()] = parts[index + 2]
    return found


def doc() -> str:
    return OPERATIONS.read_text()


def test_every_alert_has_a_runbook_section_its_url_points_at() -> None:
    found = sections(doc())
    anchors = {slug(heading): heading for heading in found}
    for each in rules(source_rule()):
        url = each["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base == RUNBOOK_BASE, url
        assert anchors.get(anchor) == each["alert"], f"{each['alert']}: no section #{anchor}"
        body = found[each["alert"]]
        for part in SECTION_PARTS:
            assert part in body, f"the runbook of {each['alert']} has no {part}"


def test_the_alerts_table_gives_each_alert_its_severity_and_for() -> None:
    table = sections(doc())["Alerts"]
    rows = set()
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) == 4 and cells[0].startswith("`Vsi"):
            rows.add((cells[0].strip("`"), cells[1], cells[3]))
    expected = {
        (r["alert"], r["labels"]["severity"], r.get("for", "")) for r in rules(source_rule())
    }
    assert rows == expected


def test_readme_links_the_page() -> None:
    readme = (REPO / "README.md").read_text()
    assert "- `docs/operations.md`: " in readme.split("## Documentation", 1)[1]
    assert "docs/operations.md" in (REPO / "charts/vault-storage-injector/README.md").read_text()


def test_every_link_to_a_section_of_the_docs_exists() -> None:
    text = doc()
    links = re.findall(r"\]\(([\w./-]*)#([\w-]+)\)", text)
    assert len(links) >= 8
    for target, anchor in links:
        path = OPERATIONS if not target else OPERATIONS.parent / target
        headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)
        assert anchor in {slug(h) for h in headings}, f"{target}#{anchor}"


def _doc_promql() -> list[str]:
    """The ```promql block and every query of the "What to watch" table."""
    text = doc()
    queries = re.findall(r"```promql\n(.*?)```", text, flags=re.S)
    table = sections(text)["What to watch"]
    for line in table.splitlines():
        cells = line.split(" | ")
        if len(cells) == 3 and "`" in cells[1]:
            queries += [q.replace("\\|", "|") for q in re.findall(r"`([^`]+)`", cells[1])]
    return queries


def test_the_pages_promql_uses_only_exported_names() -> None:
    known = used_names() | set(KSM)
    queries = _doc_promql()
    assert len(queries) >= 8
    for query in queries:
        for name, _ in selectors(query):
            assert name in known, f"{name} in docs/operations.md: {query}"


def test_the_pages_injector_query_is_the_alerts() -> None:
    (block,) = re.findall(r"```promql\n(.*?)```", doc(), flags=re.S)
    (alert,) = [r for r in rules(source_rule()) if r["alert"] == "VsiInjectorFailing"]
    assert " ".join(block.split()) == " ".join(alert["expr"].split())
    assert "VsiInjectorFailing" in alert_names(source_rule())


# -- the kubectl query, run ---------------------------------------------------------------------


def _init_status(name: str, **status: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "image": "ghcr.io/vault-storage-injector/vault-storage-injector:0.1.0",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "state": {},
        "lastState": {},
    }
    return {**base, **status}


def _pod(namespace: str, name: str, statuses: list[dict[str, Any]] | None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Pending"}
    if statuses is not None:
        status["initContainerStatuses"] = statuses
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": name},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        "status": status,
    }


ERROR = {"terminated": {"exitCode": 1, "reason": "Error", "message": "vsi-injector: failed: x"}}
PODS = [
    # Crash-looping: waiting, its last run failed.
    _pod(
        "rook-ceph",
        "rook-ceph-osd-0-6f7b8c9d4-x2x4z",
        [
            _init_status("blkdevmapper", ready=True, state={"terminated": {"exitCode": 0}}),
            _init_status(
                "vsi-injector",
                restartCount=4,
                state={"waiting": {"reason": "CrashLoopBackOff"}},
                lastState=ERROR,
            ),
        ],
    ),
    # Never restarted (restartPolicy Never): terminated with an error.
    _pod("backup", "restore-check-7x2kq", [_init_status("vsi-injector", state=ERROR)]),
    # Failed once, then wrote the keys: done.
    _pod(
        "rook-ceph",
        "rook-ceph-osd-1-5d6e7f8a9-p3q8w",
        [
            _init_status(
                "vsi-injector",
                ready=True,
                restartCount=1,
                state={"terminated": {"exitCode": 0, "reason": "Completed"}},
                lastState=ERROR,
            )
        ],
    ),
    # Running its first try.
    _pod("rook-ceph", "rook-ceph-osd-2-4c5d6e7f8-h6j2k", [_init_status("vsi-injector")]),
    # Another init container failing, and pods without init containers or without a status yet.
    _pod("rook-ceph", "rook-ceph-osd-3-3b4c5d6e7-z9y8x", [_init_status("activate", state=ERROR)]),
    _pod("rook-ceph", "rook-ceph-mon-a-7d8e9f0a1-m2n3b", []),
    _pod("team-a", "unscheduled", None),
]
EXPECTED = [
    "rook-ceph/rook-ceph-osd-0-6f7b8c9d4-x2x4z Error exit 1 restarts 4",
    "backup/restore-check-7x2kq Error exit 1 restarts 0",
]


def _api() -> web.Application:
    """Discovery and one list: what `kubectl get pods -A` asks of an API server."""

    def answer(body: dict[str, Any]) -> web.Response:
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def api(request: web.Request) -> web.Response:
        return answer({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})

    async def apis(request: web.Request) -> web.Response:
        return answer({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    async def v1(request: web.Request) -> web.Response:
        pods = {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get", "list", "watch"],
            "shortNames": ["po"],
        }
        return answer({"kind": "APIResourceList", "groupVersion": "v1", "resources": [pods]})

    async def pods(request: web.Request) -> web.Response:
        listed = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}}
        return answer({**listed, "items": PODS})

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", v1)
    app.router.add_get("/api/v1/pods", pods)
    return app


def _kubectl_query() -> list[str]:
    """The page's command, as arguments (the go-template between its single quotes)."""
    (command,) = re.findall(r"^kubectl get pods -A -o go-template='(.+)'$", doc(), flags=re.M)
    return ["get", "pods", "-A", "-o", f"go-template={command}"]


async def test_the_kubectl_query_lists_exactly_the_failing_injectors(tmp_path: Path) -> None:
    runner = web.AppRunner(_api())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: double\n"
            f"clusters: [{{name: double, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: double, user: {}}]\n"
            "contexts: [{name: double, context: {cluster: double, user: double}}]\n"
        )
        proc = await asyncio.create_subprocess_exec(
            kubectl(),
            *("--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache")),
            *_kubectl_query(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await runner.cleanup()
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == EXPECTED, (out + err).decode()
