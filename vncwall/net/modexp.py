"""Modular exponentiation that lets other threads run: OpenSSL's BN_mod_exp through ctypes.

Python's own `pow` holds the GIL for the whole computation, so a big Diffie-Hellman
exponent on one session's thread would freeze the wall's render thread for as long.
ctypes releases the GIL around foreign calls, so the same work done by libcrypto
(which CPython's ssl module already loads) leaves every other thread running. Where
libcrypto cannot be found, `pow` does the work.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

_lock = threading.Lock()
_lib: list[ctypes.CDLL | None] = []


def _libcrypto() -> ctypes.CDLL | None:
    """libcrypto with the BN functions typed, or None; looked up once."""
    with _lock:
        if not _lib:
            _lib.append(_load())
        return _lib[0]


def _load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        for fn, args, res in (
            ("BN_bin2bn", [cp, i, vp], vp),
            ("BN_bn2binpad", [vp, cp, i], i),
            ("BN_mod_exp", [vp, vp, vp, vp, vp], i),
            ("BN_new", [], vp),
            ("BN_free", [vp], None),
            ("BN_CTX_new", [], vp),
            ("BN_CTX_free", [vp], None),
        ):
            f = getattr(lib, fn)
            f.argtypes, f.restype = args, res
    except (OSError, AttributeError):
        return None
    return lib


def mod_exp(base: int, exponent: int, modulus: int) -> int:
    """base ** exponent % modulus for non-negative numbers and an odd modulus > 1."""
    lib = _libcrypto()
    if lib is None:
        return pow(base, exponent, modulus)
    size = (modulus.bit_length() + 7) // 8
    blobs = [v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
             for v in (base, exponent, modulus)]
    nums = [lib.BN_bin2bn(b, len(b), None) for b in blobs]
    result, ctx = lib.BN_new(), lib.BN_CTX_new()
    try:
        if not all(nums) or not result or not ctx:
            raise MemoryError("libcrypto could not allocate a number")
        if lib.BN_mod_exp(result, nums[0], nums[1], nums[2], ctx) != 1:
            return pow(base, exponent, modulus)
        out = ctypes.create_string_buffer(size)
        if lib.BN_bn2binpad(result, out, size) != size:
            return pow(base, exponent, modulus)
        return int.from_bytes(out.raw, "big")
    finally:
        for n in (*nums, result):
            if n:
                lib.BN_free(n)
        if ctx:
            lib.BN_CTX_free(ctx)
