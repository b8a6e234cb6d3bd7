"""The run flow: the Kubernetes client loads only for key path templates that need the bound PV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_key_paths_without_pv_fields_load_no_client_library(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from injector import cli, run\n"
        "env = {'VAULT_ADDR': 'http://127.0.0.1:1', 'VAULT_TOKEN': 't', 'VSI_NAMESPACE': 'ns',\n"
        "       'VSI_LAYOUT': 'volume-keys', 'VSI_VOLUMES': 'a', 'VSI_OUTPUT_DIR': sys.argv[1]}\n"
        "specs = run.key_specs(cli.parse([], env), 5.0)\n"
        "libs = ('hvac', 'requests', 'urllib3', 'kubernetes_asyncio', 'injector.keys.kube')\n"
        "loaded = [m for m in libs if m in sys.modules]\n"
        "print([s.secret_path for s in specs], loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={},
    )

    assert done.stdout.strip() == "['vault-storage-injector/ns/a'] []"
