"""Read and validate a wall's config.toml; every error names the file and the key."""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .net.address import Address, AddressError, parse_address
from .net.client import ClientOptions
from .net.constants import ENCODING_NAMES, Encoding
from .net.pixelformat import DEPTH_FORMATS
from .net.security import DEFAULT_PREFERENCE, NONE, Credentials, parse_method, parse_methods
from .trust import TrustStore, default_known_hosts, parse_fingerprint


class ConfigError(Exception):
    """A config file problem, as one line: 'FILE: KEY: what is wrong'."""


def read_credential(name: str) -> str:
    """The first line of systemd credential `name` ($CREDENTIALS_DIRECTORY/NAME, as
    LoadCredential= or LoadCredentialEncrypted= provide it); ConfigError if there is none."""
    if not name or name in (".", "..") or "/" in name:
        raise ConfigError(f"{name!r} is not a credential name (no '/', not '.' or '..')")
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise ConfigError(f"credential {name!r}: $CREDENTIALS_DIRECTORY is not set (run the "
                          f"wall under systemd with LoadCredential={name}:/path/to/secret)")
    path = Path(directory) / name
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"credential {name!r}: cannot read {path}: {exc.strerror} "
                          f"(is there a LoadCredential={name}:... line?)") from None


@dataclass(frozen=True)
class SessionConfig:
    """One face of the wall: a server and how to talk to it."""

    name: str
    address: Address
    password_file: Path | None = None
    password_env: str | None = None
    password_credential: str | None = None  # systemd: $CREDENTIALS_DIRECTORY/NAME
    username: str | None = None
    view_only: bool = False
    shared: bool = True
    encodings: tuple[int, ...] = ClientOptions().encodings
    quality: int | None = None
    compress: int | None = None
    depth: int = 24
    security: tuple[int, ...] = DEFAULT_PREFERENCE
    minimum_security: int = NONE
    allow_insecure_plain: bool = False
    ca_file: Path | None = None
    fingerprints: tuple[str, ...] = ()  # pinned SHA-256 of the certificate or server key
    trust_on_first_use: bool = False
    known_hosts: Path | None = None  # None: ~/.config/vncwall/known_hosts
    client_cert: Path | None = None
    client_key: Path | None = None
    via: str | None = None  # "[user@]gateway[:port]": reach the server through `ssh -W`
    resize_remote: bool = False  # ask the server to match the face's pixel size
    background_fps: float | None = None  # this session's cap when not in front (None: [wall]'s)

    def credentials(self) -> Credentials:
        """Read the secret now (files may change between reconnects)."""
        password = None
        if self.password_file is not None:
            try:
                with open(self.password_file, encoding="utf-8") as f:
                    password = f.readline().rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(
                    f"{self.password_file}: cannot read password file: {exc.strerror}"
                ) from None
        elif self.password_env is not None:
            password = os.environ.get(self.password_env)
        elif self.password_credential is not None:
            password = read_credential(self.password_credential)
        return Credentials(password=password, username=self.username)

    def client_options(self) -> ClientOptions:
        return ClientOptions(
            credentials=self.credentials(),
            shared=self.shared,
            encodings=self.encodings,
            pixel_format=DEPTH_FORMATS[self.depth],
            quality=self.quality,
            compress_level=self.compress,
            security=self.security,
            minimum_security=self.minimum_security,
            allow_insecure_plain=self.allow_insecure_plain,
            trust=self.trust(),
        )

    def trust(self) -> TrustStore:
        """How this session's server certificate or key is judged."""
        return TrustStore(
            host=self.address.host,
            port=self.address.port,
            pins=self.fingerprints,
            ca_file=self.ca_file,
            trust_on_first_use=self.trust_on_first_use,
            known_hosts=self.known_hosts or default_known_hosts(),
            client_cert=self.client_cert,
            client_key=self.client_key,
            unix_path=self.address.unix_path,
            name=self.address.trust_key(self.via),
        )


LAYOUTS = ("prism", "grid")
FILTERS = ("trilinear", "anisotropic", "linear")  # [wall] filter (render/texture.py)


@dataclass(frozen=True)
class WallConfig:
    """The [wall] table."""

    layout: str = "prism"
    opacity: float = 0.5
    front_opacity: float = 1.0
    rotate_seconds: float = 0.6
    fullscreen: bool = True
    size: tuple[int, int] = (1280, 800)
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    labels: bool = True
    reconnect_max_seconds: float = 30.0
    connect_timeout: float = 10.0
    autorotate_seconds: float = 0.0  # 0: no carousel
    autorotate_resume_seconds: float = 30.0
    skip_down: bool = False
    display: int = 0  # which monitor the fullscreen window opens on
    hud: bool = False  # whether the status HUD shows at start (a hotkey toggles it)
    filter: str = "trilinear"  # minification of shrunk faces: one of FILTERS
    background_fps: float = 0.0  # update-rate cap of every session but the front one (0: none)


@dataclass(frozen=True)
class ListenConfig:
    """The [listen] table: who may connect in with `vncwall run --listen`."""

    allow: tuple[str, ...] = ()  # IP addresses or networks; empty: anyone
    view_only: bool = False

    def allows(self, host: str) -> bool:
        """Whether a peer at `host` (an IP address text) may connect in."""
        if not self.allow:
            return True
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.allow)


@dataclass(frozen=True)
class Config:
    wall: WallConfig = field(default_factory=WallConfig)
    sessions: tuple[SessionConfig, ...] = ()
    path: Path | None = None
    keys: dict[str, str] = field(default_factory=dict)
    listen: ListenConfig = field(default_factory=ListenConfig)


class _Reader:
    """Pulls typed values out of one TOML table, naming the key on every error."""

    def __init__(self, source: str, prefix: str, table: dict[str, Any]) -> None:
        self.source = source
        self.prefix = prefix
        self.table = dict(table)

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.prefix}{key}: {message}")

    def take(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        if key not in self.table:
            return None
        value = self.table.pop(key)
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(key, f"expected {what}, got {value!r}")
        if not isinstance(value, kind):
            raise self.fail(key, f"expected {what}, got {value!r}")
        return value

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        value = self.take(key, (int, float), "a number")
        if value is None:
            return default
        if not lo <= value <= hi:
            raise self.fail(key, f"{value} is not between {lo:g} and {hi:g}")
        return float(value)

    def integer(self, key: str, lo: int, hi: int) -> int | None:
        value = self.take(key, int, f"an integer {lo}-{hi}")
        if value is not None and not lo <= value <= hi:
            raise self.fail(key, f"{value} is not between {lo} and {hi}")
        return value  # type: ignore[no-any-return]

    def boolean(self, key: str, default: bool) -> bool:
        value = self.take(key, bool, "true or false")
        return default if value is None else bool(value)

    def string(self, key: str) -> str | None:
        return self.take(key, str, "a string")  # type: ignore[no-any-return]

    def finish(self) -> None:
        for key in self.table:
            raise self.fail(key, "unknown key")


def _choice(r: _Reader, key: str, known: tuple[str, ...], default: str) -> str:
    """A string key that must be one of `known`."""
    value = r.string(key) or default
    if value not in known:
        raise r.fail(key, f"unknown value {value!r} (known: {', '.join(known)})")
    return value


def _colour(r: _Reader, key: str) -> tuple[float, float, float]:
    text = r.string(key)
    if text is None:
        return WallConfig.background
    h = text.lstrip("#")
    if len(h) != 6 or any(c not in "0123456789abcdefABCDEF" for c in h):
        raise r.fail(key, f"expected a colour like '#203040', got {text!r}")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255)


def _wall(source: str, table: dict[str, Any]) -> WallConfig:
    r = _Reader(source, "wall.", table)
    layout = r.string("layout") or "prism"
    if layout not in LAYOUTS:
        raise r.fail("layout", f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
    size = r.take("size", list, "[width, height]")
    if size is None:
        size = list(WallConfig.size)
    if len(size) != 2 or not all(isinstance(v, int) and 16 <= v <= 16384 for v in size):
        raise r.fail("size", f"expected [width, height] in pixels, got {size!r}")
    wall = WallConfig(
        layout=layout,
        opacity=r.number("opacity", WallConfig.opacity, 0.0, 1.0),
        front_opacity=r.number("front_opacity", WallConfig.front_opacity, 0.0, 1.0),
        rotate_seconds=r.number("rotate_seconds", WallConfig.rotate_seconds, 0.0, 60.0),
        fullscreen=r.boolean("fullscreen", WallConfig.fullscreen),
        size=(size[0], size[1]),
        background=_colour(r, "background"),
        labels=r.boolean("labels", WallConfig.labels),
        reconnect_max_seconds=r.number(
            "reconnect_max_seconds", WallConfig.reconnect_max_seconds, 1.0, 3600.0
        ),
        connect_timeout=r.number("connect_timeout", WallConfig.connect_timeout, 0.5, 300.0),
        autorotate_seconds=r.number("autorotate_seconds", 0.0, 0.0, 86400.0),
        autorotate_resume_seconds=r.number(
            "autorotate_resume_seconds", WallConfig.autorotate_resume_seconds, 0.0, 86400.0
        ),
        skip_down=r.boolean("skip_down", False),
        display=r.integer("display", 0, 63) or 0,
        hud=r.boolean("hud", False),
        filter=_choice(r, "filter", FILTERS, WallConfig.filter),
        background_fps=r.number("background_fps", 0.0, 0.0, 1000.0),
    )
    r.finish()
    return wall


def _listen(source: str, table: dict[str, Any]) -> ListenConfig:
    r = _Reader(source, "listen.", table)
    allow = r.take("allow", list, "a list of IP addresses or networks")
    nets: list[str] = []
    for item in allow or []:
        if not isinstance(item, str):
            raise r.fail("allow", f"expected an IP address or network, got {item!r}")
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise r.fail("allow", f"{item!r} is not an IP address or network "
                         "(e.g. \"127.0.0.1\", \"10.0.0.0/8\", \"::1\")") from None
        nets.append(item.strip())
    if allow is not None and not nets:
        raise r.fail("allow", "empty: nobody could connect in (leave it out to allow anyone)")
    listen = ListenConfig(allow=tuple(nets), view_only=r.boolean("view_only", False))
    r.finish()
    return listen


def _session(source: str, index: int, table: dict[str, Any], base: Path) -> SessionConfig:
    r = _Reader(source, f"session[{index}].", table)
    address_text = r.string("address")
    if address_text is None:
        raise r.fail("address", "missing (e.g. address = \"vnc://host:5901\")")
    try:
        address = parse_address(address_text)
    except AddressError as exc:
        raise r.fail("address", str(exc)) from None
    name = r.string("name") or address_text
    password_file = r.string("password_file")
    password_env = r.string("password_env")
    password_credential = r.string("password_credential")
    given = [k for k, v in (("password_file", password_file), ("password_env", password_env),
                            ("password_credential", password_credential)) if v is not None]
    if len(given) > 1:
        raise r.fail(given[1], f"give only one of {', '.join(given)}, not "
                     + ("both" if len(given) == 2 else "all three"))
    if password_credential is not None:
        try:
            read_credential(password_credential)
        except ConfigError as exc:
            raise r.fail("password_credential", str(exc)) from None
    pw_path = None
    if password_file is not None:
        pw_path = Path(password_file).expanduser()
        if not pw_path.is_absolute():
            pw_path = base / pw_path
    names = r.take("encodings", list, "a list of encoding names")
    encodings = SessionConfig.encodings
    if names is not None:
        encs: list[int] = []
        for n in names:
            if not isinstance(n, str) or n.lower() not in ENCODING_NAMES:
                raise r.fail("encodings", f"unknown encoding {n!r} "
                             f"(known: {', '.join(ENCODING_NAMES)})")
            encs.append(ENCODING_NAMES[n.lower()])
        if Encoding.RAW not in encs:
            encs.append(Encoding.RAW)
        encodings = tuple(encs)
    depth = r.integer("depth", 8, 24)

    def path(key: str) -> Path | None:
        text = r.string(key)
        if text is None:
            return None
        p = Path(text).expanduser()
        return p if p.is_absolute() else base / p

    security = SessionConfig.security
    sec_names = r.take("security", list, "a list of security type names")
    if sec_names is not None:
        if not all(isinstance(n, str) for n in sec_names):
            raise r.fail("security", "expected a list of security type names")
        try:
            security = parse_methods(sec_names)
        except ValueError as exc:
            raise r.fail("security", str(exc)) from None
    minimum = NONE
    min_name = r.string("minimum_security")
    if min_name is not None:
        try:
            minimum = parse_method(min_name)
        except ValueError as exc:
            raise r.fail("minimum_security", str(exc)) from None
    pins = r.take("fingerprint", (str, list), "a SHA-256 fingerprint or a list of them")
    fingerprints: tuple[str, ...] = ()
    if pins is not None:
        try:
            fingerprints = tuple(parse_fingerprint(str(p)) for p in
                                 (pins if isinstance(pins, list) else [pins]))
        except ValueError as exc:
            raise r.fail("fingerprint", str(exc)) from None
    client_cert, client_key = path("client_cert"), path("client_key")
    if client_key is not None and client_cert is None:
        raise r.fail("client_key", "needs client_cert as well")
    if depth is not None and depth not in DEPTH_FORMATS:
        raise r.fail("depth", f"{depth} is not one of 8, 16, 24")
    session = SessionConfig(
        name=name,
        address=address,
        password_file=pw_path,
        password_env=password_env,
        password_credential=password_credential,
        username=r.string("username"),
        view_only=r.boolean("view_only", False),
        shared=r.boolean("shared", True),
        encodings=encodings,
        quality=r.integer("quality", 0, 9),
        compress=r.integer("compress", 0, 9),
        depth=depth or 24,
        security=security,
        minimum_security=minimum,
        allow_insecure_plain=r.boolean("allow_insecure_plain", False),
        ca_file=path("ca_file"),
        fingerprints=fingerprints,
        trust_on_first_use=r.boolean("trust_on_first_use", False),
        known_hosts=path("known_hosts"),
        client_cert=client_cert,
        client_key=client_key,
        via=_via(r, address),
        resize_remote=r.boolean("resize_remote", False),
        background_fps=(None if "background_fps" not in table
                        else r.number("background_fps", 0.0, 0.0, 1000.0)),
    )
    r.finish()
    return session


def _via(r: _Reader, address: Address) -> str | None:
    """The `via` gateway: [user@]host[:port], as ssh takes it (no options smuggled in)."""
    via = r.string("via")
    if via is None:
        return None
    from .tunnel import TunnelError, parse_gateway

    via = via.strip()
    if not via or via.startswith("-") or any(c.isspace() for c in via):
        raise r.fail("via", f"expected [user@]gateway[:port], got {via!r}")
    try:
        parse_gateway(via)
    except TunnelError as exc:
        raise r.fail("via", str(exc)) from None
    if address.unix_path is not None:
        raise r.fail("via", "ssh -W forwards TCP host:port only, not a unix: socket path")
    if address.domain is not None:
        raise r.fail("via", "does not combine with a libvirt address; name the libvirt host in "
                     "it instead: libvirt://[user@]host/system?domain=NAME")
    return via


def _keys(source: str, table: dict[str, Any]) -> dict[str, str]:
    """The [keys] table: action = "ctrl+alt+key", checked against the known actions."""
    from .input.router import DEFAULT_HOTKEYS, Hotkey, HotkeyError

    r = _Reader(source, "keys.", table)
    keys: dict[str, str] = {}
    for action in DEFAULT_HOTKEYS:
        text = r.string(action)
        if text is None:
            continue
        try:
            Hotkey.parse(text)
        except HotkeyError as exc:
            raise r.fail(action, str(exc)) from None
        keys[action] = text
    r.finish()
    return keys


def parse_config(text: str, source: str = "<config>", base: Path | None = None,
                 require_sessions: bool = True) -> Config:
    """Parse config text; raises ConfigError naming `source` and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    top = _Reader(source, "", data)
    wall_table = top.take("wall", dict, "a [wall] table") or {}
    session_tables = top.take("session", list, "[[session]] tables") or []
    keys = _keys(source, top.take("keys", dict, "a [keys] table") or {})
    listen = _listen(source, top.take("listen", dict, "a [listen] table") or {})
    top.finish()
    wall = _wall(source, wall_table)
    sessions = []
    for i, table in enumerate(session_tables):
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: session[{i}]: expected a [[session]] table")
        sessions.append(_session(source, i, table, base or Path.cwd()))
    if not sessions and require_sessions:
        raise ConfigError(f"{source}: session: no [[session]] configured")
    return Config(wall, tuple(sessions), None, keys, listen)


def load_config(path: str | Path, require_sessions: bool = True) -> Config:
    """Read a config file; warns (via the returned problems) about loose password files."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    cfg = parse_config(text, str(p), p.parent.resolve(), require_sessions)
    return Config(cfg.wall, cfg.sessions, p, cfg.keys, cfg.listen)


def loose_password_files(cfg: Config) -> list[Path]:
    """Password files that other users can read (worth a warning)."""
    loose = []
    for s in cfg.sessions:
        if s.password_file is None:
            continue
        try:
            mode = s.password_file.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            loose.append(s.password_file)
    return loose
