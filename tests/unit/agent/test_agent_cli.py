"""The installed command: `chipwatch-agent ...` (console script) and `python -m chipwatch_agent`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONSOLE_SCRIPT = shutil.which("chipwatch-agent", path=str(Path(sys.executable).parent)) or "chipwatch-agent"


def run(*args, env=None):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("profile, links", [("hgx-h800", 8), ("hgx-h100", 18)])
def test_console_script_collects_a_valid_report(tmp_path, assert_valid, profile, links):
    done = run(CONSOLE_SCRIPT, "collect", "--fake-nvml", profile, "--json", "--state-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert_valid(report)
    assert report["synthetic"] is True and report["agent"]["backend"] == "fake"
    assert len(report["identity"]["gpus"]) == 8
    for gpu in report["identity"]["gpus"]:
        assert sum(link["state"] == "active" for link in gpu["nvlinks"]) == links


def test_python_dash_m_is_the_same_command(tmp_path, assert_valid):
    done = run(sys.executable, "-m", "chipwatch_agent", "collect", "--fake-nvml", "l20", "--json",
               "--state-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert_valid(json.loads(done.stdout))


def test_collect_with_nonce_includes_attestation(tmp_path, assert_valid):
    done = run(CONSOLE_SCRIPT, "collect", "--fake-nvml", "hgx-h200", "--json", "--nonce", "ab" * 32,
               "--state-dir", str(tmp_path))
    report = json.loads(done.stdout)
    assert_valid(report)
    assert len(report["attestation"]) == 8


def test_no_library_collect_prints_a_status_report_and_exits_non_zero(tmp_path, assert_valid):
    done = run(CONSOLE_SCRIPT, "collect", "--fake-nvml", "fault-no-library", "--json", "--state-dir", str(tmp_path))
    assert done.returncode == 4
    assert "NVML unusable: LibraryNotFound" in done.stderr
    report = json.loads(done.stdout)
    assert_valid(report)
    assert report["nvml_status"]["error"] == "LibraryNotFound"


def test_no_library_plain_collect_exits_non_zero(tmp_path):
    done = run(CONSOLE_SCRIPT, "collect", "--fake-nvml", "fault-no-library", "--state-dir", str(tmp_path))
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stdout.startswith("NVML: ") and "NVML unusable" in done.stderr


@pytest.mark.parametrize("args, code, message", [
    (["collect", "--fake-nvml", "hgx-h999"], 2, "no NVML profile or snapshot file"),
    (["collect", "--fake-nvml", "hgx-h100", "--nonce", "abcd"], 2, "--nonce must be 64 hex digits"),
    (["run", "--once"], 3, "not enrolled"),
    (["status"], 3, ""),
    (["record", "--fake-nvml", "hgx-h100", "--out", "x.json", "--cycles", "0"], 2, "must be positive"),
])
def test_bad_input_exits_non_zero_with_a_message(tmp_path, args, code, message):
    done = run(CONSOLE_SCRIPT, *args, "--state-dir", str(tmp_path))
    assert done.returncode == code
    assert message in done.stderr


def test_unreadable_config_is_reported(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{not json")
    done = run(CONSOLE_SCRIPT, "run", "--once", "--config", str(config), "--state-dir", str(tmp_path))
    assert done.returncode == 3 and "cannot read config" in done.stderr


def test_unknown_config_setting_is_reported(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"server_url": "https://x", "agent_id": "a", "intervall": 5}')
    done = run(CONSOLE_SCRIPT, "status", "--config", str(config), "--state-dir", str(tmp_path))
    assert done.returncode == 3 and "unknown setting(s) intervall" in done.stderr


def test_state_dir_from_environment(tmp_path):
    done = run(CONSOLE_SCRIPT, "status", "--json", env={"CHIPWATCH_AGENT_STATE_DIR": str(tmp_path / "env")})
    assert done.returncode == 3
    assert json.loads(done.stdout)["enrolled"] is False
