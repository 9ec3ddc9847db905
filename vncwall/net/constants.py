"""Wire constants of RFC 6143 and the community rfbproto document."""

from __future__ import annotations

from enum import IntEnum, IntFlag


class Security(IntEnum):
    """Security types (RFC 6143 section 7.1.2, rfbproto 'Security Types')."""

    INVALID = 0
    NONE = 1
    VNC_AUTH = 2
    RA2 = 5
    RA2NE = 6
    TIGHT = 16
    TLS = 18  # anonymous TLS, then the security types again inside it (vino)
    VENCRYPT = 19
    SASL = 20
    DH = 30
    RA256 = 129
    RANE256 = 130


class ServerMsg(IntEnum):
    """Server-to-client message types."""

    FRAMEBUFFER_UPDATE = 0
    SET_COLOUR_MAP_ENTRIES = 1
    BELL = 2
    SERVER_CUT_TEXT = 3
    END_OF_CONTINUOUS_UPDATES = 150
    SERVER_FENCE = 248
    QEMU = 255


class ClientMsg(IntEnum):
    """Client-to-server message types."""

    SET_PIXEL_FORMAT = 0
    SET_ENCODINGS = 2
    FRAMEBUFFER_UPDATE_REQUEST = 3
    KEY_EVENT = 4
    POINTER_EVENT = 5
    CLIENT_CUT_TEXT = 6
    ENABLE_CONTINUOUS_UPDATES = 150
    CLIENT_FENCE = 248
    SET_DESKTOP_SIZE = 251
    QEMU = 255


class Encoding(IntEnum):
    """Encodings and pseudo-encodings (rfbproto 'Encodings')."""

    RAW = 0
    COPYRECT = 1
    RRE = 2
    CORRE = 4
    HEXTILE = 5
    ZLIB = 6
    TIGHT = 7
    TRLE = 15
    ZRLE = 16
    JPEG_QUALITY_0 = -32
    JPEG_QUALITY_9 = -23
    DESKTOP_SIZE = -223
    LAST_RECT = -224
    POINTER_POS = -232
    CURSOR = -239
    X_CURSOR = -240
    COMPRESS_LEVEL_0 = -256
    COMPRESS_LEVEL_9 = -247
    QEMU_POINTER_MOTION_CHANGE = -257  # QEMU: the guest pointer became absolute/relative
    QEMU_EXTENDED_KEY = -258
    TIGHT_PNG = -260  # Tight with PNG instead of basic compression (noVNC, QEMU, ESXi)
    QEMU_LED_STATE = -261
    DESKTOP_NAME = -307
    EXTENDED_DESKTOP_SIZE = -308
    FENCE = -312
    CONTINUOUS_UPDATES = -313
    CURSOR_WITH_ALPHA = -314
    EXTENDED_CLIPBOARD = -1063131698  # 0xC0A1E5CE as a signed 32-bit value


class FenceFlag(IntFlag):
    """ClientFence / ServerFence flags (rfbproto 'ClientFence')."""

    BLOCK_BEFORE = 1 << 0
    BLOCK_AFTER = 1 << 1
    SYNC_NEXT = 1 << 2
    REQUEST = 1 << 31


MAX_FENCE_PAYLOAD = 64  # rfbproto limits a fence's payload to 64 bytes


def encoding_name(value: int) -> str:
    """Lower-case name of an encoding number ('tight'), or the number itself if unknown."""
    try:
        return Encoding(value).name.lower()
    except ValueError:
        return str(value)


# Names accepted by --encodings and config files, best first (the default order).
ENCODING_NAMES: dict[str, Encoding] = {
    "tight": Encoding.TIGHT,
    "zrle": Encoding.ZRLE,
    "trle": Encoding.TRLE,
    "hextile": Encoding.HEXTILE,
    "zlib": Encoding.ZLIB,
    "corre": Encoding.CORRE,
    "rre": Encoding.RRE,
    "copyrect": Encoding.COPYRECT,
    "raw": Encoding.RAW,
}
