"""config.toml parsing: defaults, every key, and errors that name the file and the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vncwall.config import ConfigError, load_config, loose_password_files, parse_config
from vncwall.net.constants import Encoding

FULL = """
[wall]
layout = "prism"
opacity = 0.4
front_opacity = 0.9
rotate_seconds = 1.5
fullscreen = false
size = [1024, 600]
background = "#102030"
labels = false
reconnect_max_seconds = 12

[[session]]
name = "build-01"
address = "vnc://127.0.0.1:5901"
password_file = "secrets/build-01.pass"
view_only = true
encodings = ["tight", "zrle", "hextile", "copyrect"]
quality = 8

[[session]]
address = "example.org:2"
password_env = "B_PASS"
depth = 16
"""


def test_full_config() -> None:
    cfg = parse_config(FULL, "wall.toml", Path("/etc/vncwall"))
    w = cfg.wall
    assert (w.opacity, w.front_opacity, w.rotate_seconds, w.fullscreen) == (0.4, 0.9, 1.5, False)
    assert w.size == (1024, 600) and w.labels is False and w.reconnect_max_seconds == 12
    assert w.background == pytest.approx((0x10 / 255, 0x20 / 255, 0x30 / 255))
    a, b = cfg.sessions
    assert a.name == "build-01" and a.address.port == 5901 and a.view_only
    assert a.password_file == Path("/etc/vncwall/secrets/build-01.pass")
    assert a.encodings[:4] == (Encoding.TIGHT, Encoding.ZRLE, Encoding.HEXTILE, Encoding.COPYRECT)
    assert a.encodings[-1] == Encoding.RAW and a.quality == 8
    assert b.name == "example.org:2" and b.address.port == 5902 and b.depth == 16


def test_defaults() -> None:
    cfg = parse_config('[[session]]\naddress = "h"\n')
    assert cfg.wall.opacity == 0.5 and cfg.wall.front_opacity == 1.0 and cfg.wall.fullscreen
    assert cfg.sessions[0].client_options().quality is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[wall]\nopacity = 2\n[[session]]\naddress='h'", "w.toml: wall.opacity: 2 is not between"),
        ("[wall]\nopacity = 'x'\n[[session]]\naddress='h'", "wall.opacity: expected a number"),
        ("[wall]\nfullscreen = 1\n[[session]]\naddress='h'", "wall.fullscreen: expected true"),
        ("[wall]\nsize = [1, 2, 3]\n[[session]]\naddress='h'", "wall.size: expected [width"),
        ("[wall]\nbackground = 'red'\n[[session]]\naddress='h'", "wall.background"),
        ("[wall]\nlayout = 'cube'\n[[session]]\naddress='h'", "wall.layout: unknown layout"),
        ("[wall]\nbogus = 1\n[[session]]\naddress='h'", "wall.bogus: unknown key"),
        ("[[session]]\nname='x'", "session[0].address: missing"),
        ("[[session]]\naddress='h:x'", "session[0].address: cannot read"),
        ("[[session]]\naddress='h'\n[[session]]\naddress='h'\nquality=12", "session[1].quality"),
        ("[[session]]\naddress='h'\nencodings=['tight','webp']", "unknown encoding 'webp'"),
        ("[[session]]\naddress='h'\ndepth=12", "session[0].depth: 12 is not one of"),
        ("[[session]]\naddress='h'\npassword_file='a'\npassword_env='B'", "not both"),
        ("[wall]\n", "no [[session]] configured"),
        ("[wall\n", "w.toml: "),
    ],
)
def test_errors_name_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        parse_config(text, "w.toml")


def test_load_and_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2\nsecond line ignored\n")
    os.chmod(secret, 0o644)
    cfg_path = tmp_path / "wall.toml"
    cfg_path.write_text(
        "[[session]]\naddress='h'\npassword_file='pw'\n"
        "[[session]]\naddress='h'\npassword_env='VW_TEST_PW'\n"
    )
    cfg = load_config(cfg_path)
    monkeypatch.setenv("VW_TEST_PW", "from-env")
    assert cfg.sessions[0].credentials().password == "hunter2"
    assert cfg.sessions[1].credentials().password == "from-env"
    assert "hunter2" not in repr(cfg.sessions[0].credentials())
    assert loose_password_files(cfg) == [secret]
    os.chmod(secret, 0o600)
    assert loose_password_files(cfg) == []
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_kiosk_keys() -> None:
    cfg = parse_config(
        '[wall]\nlayout = "grid"\ndisplay = 1\nhud = true\n'
        '[[session]]\naddress = "h:1"\nvia = "ops@gw.example:2222"\nresize_remote = true\n'
    )
    assert cfg.wall.layout == "grid" and cfg.wall.display == 1 and cfg.wall.hud
    assert cfg.sessions[0].via == "ops@gw.example:2222" and cfg.sessions[0].resize_remote
    plain = parse_config('[[session]]\naddress = "h:1"\n')
    assert plain.sessions[0].via is None and not plain.sessions[0].resize_remote


@pytest.mark.parametrize("text, message", [
    ('[wall]\nlayout = "cube"\n', "wall.layout: unknown layout 'cube' (known: prism, grid)"),
    ('[wall]\ndisplay = -1\n', "wall.display: -1 is not between 0 and 63"),
    ('[[session]]\naddress = "h"\nvia = "-oProxyCommand=x"\n', "session[0].via: expected"),
    ('[[session]]\naddress = "h"\nvia = "a b"\n', "session[0].via: expected"),
])
def test_kiosk_key_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "wall.toml")
    assert message in str(err.value)


def test_example_config_at_top_level_loads() -> None:
    """The annotated config.toml shipped at the top of the repository stays valid."""
    cfg = load_config(Path(__file__).resolve().parent.parent / "config.toml")
    assert [s.name for s in cfg.sessions] == ["build-01", "lab gateway"]
    assert cfg.sessions[1].via == "ops@gateway.example"
    assert cfg.wall.layout in ("prism", "grid")


@pytest.mark.parametrize("address, message", [
    ("unix:/tmp/x", "not a unix: socket path"),
    ("libvirt:///system?domain=g", "does not combine with a libvirt address"),
])
def test_via_refuses_addresses_ssh_cannot_reach(address: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f'[[session]]\naddress = "{address}"\nvia = "gw"\n', "wall.toml")
    assert str(err.value).startswith("wall.toml: session[0].via: ")
    assert message in str(err.value)


def test_trust_key_follows_gateway_and_libvirt_name() -> None:
    cfg = parse_config(
        '[[session]]\naddress = "localhost:1"\nvia = "ops@gw:2222"\n'
        '[[session]]\naddress = "libvirt:///system?domain=db"\n'
        '[[session]]\naddress = "h::5901"\n'
    )
    labels = [s.trust().label for s in cfg.sessions]
    assert labels[0] == "gw:2222/localhost::5901"
    assert "domain=db" in labels[1] and labels[1].startswith("libvirt:")
    assert labels[2] == "h::5901"
