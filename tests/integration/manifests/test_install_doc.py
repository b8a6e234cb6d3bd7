"""docs/install.md matches the manifests: its paths exist, its commands name the real objects."""

from __future__ import annotations

import re

from tests.integration.manifests.conftest import REPO, WEBHOOK_NAMESPACE, Obj, find

DOC = (REPO / "docs/install.md").read_text()


def test_every_manifests_path_in_the_doc_exists() -> None:
    paths = set(re.findall(r"\bmanifests/[\w./-]*\w", DOC))
    assert "manifests/base" in paths
    for path in sorted(paths):
        if "<" in path:
            continue
        assert (REPO / path).exists(), f"docs/install.md names {path}, which does not exist"


def test_every_apply_and_delete_target_is_a_kustomization() -> None:
    targets = re.findall(r"kubectl (?:apply|delete) -k (manifests/[\w/-]+)(?=[\s`]|$)", DOC)
    assert targets
    for target in targets:
        assert (REPO / target / "kustomization.yaml").is_file(), target


def test_the_documented_bootstrap_command_is_the_jobs(base: list[Obj]) -> None:
    job = find(base, "Job", "vault-storage-injector-certs-bootstrap", WEBHOOK_NAMESPACE)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    documented = re.search(r"^vsi-certs bootstrap (.*?)\n```", DOC, re.M | re.S)
    assert documented is not None
    words = documented.group(1).replace("\\\n", " ").split()
    flags = [f"{flag}={value}" for flag, value in zip(words[::2], words[1::2], strict=True)]
    assert [container["command"][0], *container["args"]] == ["vsi-certs", "bootstrap", *flags]


def test_the_doc_names_every_object_it_tells_the_admin_to_touch(base: list[Obj]) -> None:
    find(base, "MutatingWebhookConfiguration", "vault-storage-injector")
    find(base, "CronJob", "vault-storage-injector-certs-rotate", WEBHOOK_NAMESPACE)
    find(base, "Deployment", "vault-storage-injector", WEBHOOK_NAMESPACE)
    for name in (
        "mutatingwebhookconfiguration vault-storage-injector",
        "cronjob/vault-storage-injector-certs-rotate",
        "job/vault-storage-injector-certs-bootstrap",
        "deploy/vault-storage-injector",
    ):
        assert name in DOC


def test_uninstall_deletes_the_webhook_configuration_before_anything_else() -> None:
    section = DOC.split("## 7. Uninstall", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^kubectl .*$", section, re.M)
    assert commands[0] == "kubectl delete mutatingwebhookconfiguration vault-storage-injector"
