"""Session passwords from systemd credentials ($CREDENTIALS_DIRECTORY), on a real Xvnc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import ROOT, wall_process
from tests.servers import missing_binaries, missing_xvfb_binaries, vnc_server, xvfb
from tests.waiting import wait
from vncwall.config import ConfigError, load_config, parse_config

PASSWORD = "cred-s3cret"


def test_password_credential_is_read_from_the_credentials_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "build-01").write_text("hunter2\nsecond line ignored\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg_path = tmp_path / "wall.toml"
    cfg_path.write_text("[[session]]\naddress='h'\npassword_credential='build-01'\n")
    cfg = load_config(cfg_path)
    assert cfg.sessions[0].password_credential == "build-01"
    assert cfg.sessions[0].credentials().password == "hunter2"
    (creds / "build-01").write_text("rotated\n")  # read again at every connect
    assert cfg.sessions[0].credentials().password == "rotated"
    (creds / "build-01").unlink()  # gone after the config was read: the connect says so
    with pytest.raises(ConfigError, match=r"credential 'build-01': cannot read .*build-01"):
        cfg.sessions[0].credentials()


@pytest.mark.parametrize(
    ("directory", "value", "message"),
    [
        (None, "pw", r"w\.toml: session\[0\]\.password_credential: credential 'pw': "
                     r"\$CREDENTIALS_DIRECTORY is not set"),
        ("dir", "missing", r"w\.toml: session\[0\]\.password_credential: credential "
                           r"'missing': cannot read .*/missing: No such file"),
        ("dir", "../pw", r"session\[0\]\.password_credential: '\.\./pw' is not a credential"),
        ("dir", "", r"session\[0\]\.password_credential: '' is not a credential"),
    ],
)
def test_password_credential_errors_name_file_and_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory: str | None, value: str,
        message: str) -> None:
    if directory is None:
        monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    else:
        (tmp_path / directory).mkdir()
        (tmp_path / "pw").write_text("outside the directory\n")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / directory))
    with pytest.raises(ConfigError, match=message):
        parse_config(f"[[session]]\naddress='h'\npassword_credential='{value}'\n", "w.toml")


def test_only_one_password_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("x\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(ConfigError, match=r"session\[0\]\.password_credential: give only one "
                                          r"of password_env, password_credential, not both"):
        parse_config("[[session]]\naddress='h'\npassword_env='X'\npassword_credential='pw'\n",
                     "w.toml")
    with pytest.raises(ConfigError, match=r"session\[0\]\.password_env: give only one of "
                                          r"password_file, password_env, password_credential, "
                                          r"not all three"):
        parse_config("[[session]]\naddress='h'\npassword_file='pw'\npassword_env='X'\n"
                     "password_credential='pw'\n", "w.toml")


def test_wall_logs_in_to_xvnc_with_a_credential(tmp_path: Path) -> None:
    """A wall process, as systemd's LoadCredential= would start it, on a VncAuth Xvnc."""
    missing = missing_binaries("tigervnc", scene=False) + missing_xvfb_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    (creds / "xvnc").write_text(PASSWORD + "\n")
    (creds / "stale").write_text("not-the-password\n")
    status = tmp_path / "status.json"
    with (xvfb(width=800, height=600) as gl,
          vnc_server("tigervnc", password=PASSWORD, scene=False) as server):
        config = tmp_path / "wall.toml"
        config.write_text(
            "[wall]\n"
            f'[[session]]\nname = "good"\naddress = "{server.address}"\n'
            'password_credential = "xvnc"\nsecurity = ["vncauth"]\n'
            f'[[session]]\nname = "bad"\naddress = "{server.address}"\n'
            'password_credential = "stale"\nsecurity = ["vncauth"]\n')
        args = ["--no-control", "--status-json", str(status)]
        env = {"CREDENTIALS_DIRECTORY": str(creds)}
        with wall_process(gl, config, (320, 200), tmp_path / "wall.log", extra_args=args,
                          extra_env=env) as wall:
            sessions: dict[str, Any] = {}

            def settled() -> bool:
                wall.assert_running()
                try:
                    doc = json.loads(status.read_text())
                except (OSError, ValueError):
                    return False
                sessions.clear()
                sessions.update({s["name"]: s for s in doc["sessions"]})
                return (sessions.get("good", {}).get("first_frame") is True
                        and bool(sessions.get("bad", {}).get("reason")))

            wait(settled, f"sessions never settled: {sessions}", timeout=30)
            assert sessions["good"]["state"] == "live"
            assert sessions["good"]["framebuffer"] == [1280, 800]
            assert sessions["bad"]["state"] != "live"
            assert "auth" in sessions["bad"]["reason"].lower(), sessions["bad"]
        assert PASSWORD not in wall.log.read_text(errors="replace")


def test_run_refuses_a_credential_outside_systemd(tmp_path: Path) -> None:
    config = tmp_path / "wall.toml"
    config.write_text("[[session]]\naddress = '127.0.0.1::1'\npassword_credential = 'pw'\n")
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    out = subprocess.run([sys.executable, "-m", "vncwall", "run", "--config", str(config)],
                         capture_output=True, text=True, timeout=60, check=False,
                         env=env | {"PYTHONPATH": str(ROOT)})
    assert out.returncode == 2
    assert out.stderr.strip() == (f"vncwall: {config}: session[0].password_credential: "
                                  "credential 'pw': $CREDENTIALS_DIRECTORY is not set (run the "
                                  "wall under systemd with LoadCredential=pw:/path/to/secret)")
