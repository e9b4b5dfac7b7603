"""What operators copy: the example configuration in deploy/ and the one in the README are valid
(every key known, every value of the right type) and give a service the gateway would start."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from gateway.cli.main import _parser
from gateway.cli.serve import settings_from
from gateway.config import load_settings
from gateway.service import STOP_GRACE_SECONDS

ROOT = Path(__file__).resolve().parent.parent


def readme_configuration(tmp_path: Path) -> Path:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = re.findall(r"### 設定 / Configuration.*?```toml\n(.*?)```", text, re.DOTALL)
    path = tmp_path / "readme.toml"
    path.write_text(block, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", ["deploy", "readme"])
def test_example_configurations_are_valid(tmp_path: Path, source: str) -> None:
    path = ROOT / "deploy" / "gateway.toml" if source == "deploy" else readme_configuration(tmp_path)
    settings = load_settings(path)
    serve = settings_from(_parser().parse_args(["serve", "--config", str(path)])).serve
    assert serve.recipient_domain_list == ("city.example.lg.jp",) and settings.sandbox.mode == "bwrap"
    if source == "deploy":
        assert serve.lgwan_smtp_address is not None and serve.postmaster and settings.mail.subject_tag == "[外部]"


def test_the_systemd_unit_starts_the_configured_service() -> None:
    unit = (ROOT / "deploy" / "lgwan-gateway.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/lgwan-gateway/.venv/bin/gateway serve --config /etc/lgwan-gateway/gateway.toml" in unit
    assert "KillMode=mixed" in unit  # workers finish their jobs; sandboxes are not killed mid-job
    timeout = int(re.search(r"TimeoutStopSec=(\d+)", unit).group(1))  # type: ignore[union-attr]
    assert timeout > load_settings(ROOT / "deploy" / "gateway.toml").sandbox.timeout_seconds + STOP_GRACE_SECONDS


def test_the_container_image_has_runtime_packages_only_and_a_health_check() -> None:
    """Checked as text: no container engine runs on the build machines."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "RUN bash scripts/setup.sh --runtime" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/readyz" in dockerfile
    runtime = subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh"), "--runtime", "--list-packages"],
                             capture_output=True, text=True, check=True).stdout.split()
    everything = subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh"), "--list-packages"],
                                capture_output=True, text=True, check=True).stdout.split()
    assert {"bubblewrap", "libmagic1", "libreoffice-writer-nogui", "fonts-noto-cjk"} <= set(runtime)
    assert not {"chromium", "postgresql", "poppler-utils", "c-icap"} & set(runtime)
    assert {"chromium", "postgresql"} <= set(everything)
    compose = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    assert "./gateway.toml:/etc/gateway/gateway.toml:ro" in compose and "/etc/gateway/gateway.toml" in dockerfile
