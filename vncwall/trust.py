"""Trust in servers' certificates and keys: pinned fingerprints, CA checks, a known-hosts file."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import ssl
import string
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from .net.errors import AuthError


def default_known_hosts() -> Path:
    """~/.config/vncwall/known_hosts (or under $XDG_CONFIG_HOME)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vncwall" / "known_hosts"


def format_fingerprint(hexdigest: str) -> str:
    """'SHA256:ab:cd:...' from 64 hex digits."""
    return "SHA256:" + ":".join(hexdigest[i : i + 2] for i in range(0, len(hexdigest), 2))


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as 64 lowercase hex digits; accepts 'SHA256:' and colons."""
    t = text.strip()
    if t.lower().startswith("sha256:"):
        t = t[7:]
    t = t.replace(":", "").replace(" ", "").lower()
    if len(t) != 64 or any(c not in string.hexdigits for c in t):
        raise ValueError(f"{text!r} is not a SHA-256 fingerprint (64 hex digits)")
    return t


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TrustStore:
    """One session's rules for accepting a server's certificate or RSA key."""

    host: str
    port: int
    pins: tuple[str, ...] = ()  # SHA-256 hex of accepted certificates / server keys
    ca_file: Path | None = None  # None: the system store
    trust_on_first_use: bool = False
    known_hosts: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    unix_path: str | None = None
    name: str | None = None  # the known-hosts key, when host:port is not stable (libvirt, via)

    @property
    def label(self) -> str:
        if self.name is not None:
            return self.name
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}::{self.port}"

    # --- the Trust protocol ------------------------------------------------------------
    def check_certificate(self, der: bytes) -> str:
        fp = _digest(der)
        decided = self._pinned_or_known("x509", fp, "certificate")
        if decided is not None:
            return decided
        problem = self._ca_problem(der)
        if problem is None:
            return f"{format_fingerprint(fp)} verified for {self.host}"
        return self._first_use("x509", fp, "certificate", problem)

    def check_server_key(self, kind: str, key: bytes) -> str:
        fp = _digest(key)
        decided = self._pinned_or_known(kind, fp, "server key")
        if decided is not None:
            return decided
        return self._first_use(kind, fp, "server key", "not pinned and not known")

    def configure_tls(self, context: ssl.SSLContext) -> None:
        if self.client_cert is None:
            return
        try:
            context.load_cert_chain(self.client_cert, self.client_key)
        except (OSError, ssl.SSLError) as exc:
            why = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise AuthError(f"cannot load client certificate {self.client_cert}: {why}") from None

    # --- the rules -----------------------------------------------------------------------
    def _pinned_or_known(self, kind: str, fp: str, what: str) -> str | None:
        if self.pins:
            if fp in self.pins:
                return f"{format_fingerprint(fp)} (pinned)"
            raise AuthError(
                f"{self.label}: {what} {format_fingerprint(fp)} does not match the pinned "
                f"{format_fingerprint(self.pins[0])}"
            )
        known = self.known(kind)
        if known is None:
            return None
        if known == fp:
            return f"{format_fingerprint(fp)} (known host)"
        raise AuthError(
            f"{self.label}: {what} changed: known {format_fingerprint(known)}, now "
            f"{format_fingerprint(fp)}; if this is expected, remove its line from "
            f"{self.known_hosts}"
        )

    def _first_use(self, kind: str, fp: str, what: str, problem: str) -> str:
        if not self.trust_on_first_use or self.known_hosts is None:
            if kind == "x509":
                raise AuthError(
                    f"{self.label}: unknown certificate {format_fingerprint(fp)} ({problem}); "
                    "to trust it, set ca_file (--ca-file) to the CA that signed it or to this "
                    "certificate itself, pin it with fingerprint (--pin), or enable "
                    "trust_on_first_use (--trust-on-first-use)"
                )
            raise AuthError(
                f"{self.label}: unknown {what} {format_fingerprint(fp)} ({problem}); pin it "
                "with fingerprint (--pin) or enable trust_on_first_use (--trust-on-first-use)"
            )
        self.remember(kind, fp)
        return f"{format_fingerprint(fp)} (trusted on first use, stored in {self.known_hosts})"

    def _ca_problem(self, der: bytes) -> str | None:
        """None when the certificate chains to a trusted CA (or is itself one of the
        certificates in ca_file) and names the host; else why not, in plain words."""
        try:
            leaf = x509.load_der_x509_certificate(der)
        except ValueError:
            return "unreadable certificate"
        source = str(self.ca_file) if self.ca_file is not None else "the system CA store"
        try:
            roots = self._roots()
        except (OSError, ValueError) as exc:
            return f"cannot read CA certificates from {source}: {exc}"
        if not roots:
            return f"no CA certificates in {source} to check it against"
        subject: x509.DNSName | x509.IPAddress
        try:
            subject = x509.IPAddress(ipaddress.ip_address(self.host))
        except ValueError:
            if not self.host:
                return "no host name to check it against"
            subject = x509.DNSName(self.host)
        if any(root.public_bytes(serialization.Encoding.DER) == der for root in roots):
            # A self-signed server certificate given as ca_file (openssl req -x509): trusted
            # as itself, like a pin, but it must still be valid now and name the host.
            return _own_problem(leaf, subject, self.host)
        try:
            verifier = PolicyBuilder().store(Store(roots)).build_server_verifier(subject)
            verifier.verify(leaf, [])
        except (VerificationError, ValueError) as exc:
            return _plain_words(str(exc), source, self.host)
        return None

    def _roots(self) -> list[x509.Certificate]:
        path: Path | None = self.ca_file
        if path is None:
            paths = ssl.get_default_verify_paths()
            found = [n for n in (paths.cafile, paths.openssl_cafile) if n and Path(n).is_file()]
            if not found:
                return []
            path = Path(found[0])
        with warnings.catch_warnings():  # old system CAs with odd serials must stay quiet
            warnings.simplefilter("ignore")
            return x509.load_pem_x509_certificates(path.read_bytes())

    # --- the known-hosts file: 'HOST::PORT KIND SHA256HEX' per line ------------------------
    def known(self, kind: str) -> str | None:
        if self.known_hosts is None:
            return None
        try:
            lines = self.known_hosts.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuthError(f"cannot read {self.known_hosts}: {exc.strerror}") from None
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] == self.label and parts[1] == kind:
                return parts[2].lower()
        return None

    def remember(self, kind: str, fp: str) -> None:
        assert self.known_hosts is not None
        try:
            self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(f"{self.label} {kind} {fp}\n")
        except OSError as exc:
            raise AuthError(f"cannot record the server in {self.known_hosts}: "
                            f"{exc.strerror}") from None


def _plain_words(error: str, source: str, host: str) -> str:
    """The crypto library's verification error as a reason a user can act on."""
    if "candidates exhausted" in error:
        return f"not signed by a CA in {source}"
    if "subjectAltName" in error:
        return f"issued for another name than {host}"
    if "not valid at validation time" in error:
        return "expired or not yet valid"
    if "must not be asserted in an EE certificate" in error:
        return f"a CA certificate used as a server certificate, and not itself in {source}"
    return "not verified: " + error.split(" (encountered processing", 1)[0]


def _own_problem(cert: x509.Certificate, subject: x509.DNSName | x509.IPAddress,
                 host: str) -> str | None:
    """Why a certificate trusted as itself does not do for `host` now, or None."""
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return "expired or not yet valid"
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        common = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        if any(str(a.value).lower() == host.lower() for a in common):
            return None
        return f"issued for another name than {host}"
    if isinstance(subject, x509.IPAddress):
        if subject.value in names.get_values_for_type(x509.IPAddress):
            return None
    elif any(_dns_match(n, host) for n in names.get_values_for_type(x509.DNSName)):
        return None
    return f"issued for another name than {host}"


def _dns_match(pattern: str, host: str) -> bool:
    """RFC 6125 matching: exact, or one leading '*.' label standing for one label."""
    p, h = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if p.startswith("*."):
        return "." in h and h.split(".", 1)[1] == p[2:]
    return p == h
