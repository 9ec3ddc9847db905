"""The XWD reader, on synthetic files and on real `xwd -root` dumps of Xvfb."""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt
import pytest

from tests.servers import missing_xvfb_binaries, xvfb
from tests.xwd import HEADER_STRUCT, read_header, read_xwd

RGB_MASKS = (0xFF0000, 0x00FF00, 0x0000FF)
BGR_MASKS = (0x0000FF, 0x00FF00, 0xFF0000)
RGB565_MASKS = (0xF800, 0x07E0, 0x001F)


def make_xwd(
    rgb: npt.NDArray[np.uint8],
    bits_per_pixel: int = 32,
    msb_first: bool = False,
    masks: tuple[int, int, int] = RGB_MASKS,
    pad_bytes: int = 0,
    ncolors: int = 0,
    name: bytes = b"xwdump\0",
    overrides: dict[str, int] | None = None,
) -> bytes:
    """An XWD file holding `rgb`; channels are truncated to the width of their mask."""
    h, w, _ = rgb.shape
    bpp = bits_per_pixel // 8
    pixels = np.zeros((h, w), dtype=np.uint64)
    for c, mask in enumerate(masks):
        shift = (mask & -mask).bit_length() - 1
        bits = (mask >> shift).bit_length()
        pixels |= (rgb[..., c].astype(np.uint64) >> (8 - bits)) << shift
    octets = np.stack([(pixels >> (8 * i)) & 0xFF for i in range(bpp)], axis=-1).astype(
        np.uint8
    )  # least significant first
    if msb_first:
        octets = octets[..., ::-1]
    bytes_per_line = w * bpp + pad_bytes
    rows = np.zeros((h, bytes_per_line), dtype=np.uint8)
    rows[:, : w * bpp] = octets.reshape(h, w * bpp)
    rows[:, w * bpp :] = 0xEE  # padding must be ignored
    fields = {
        "header_size": HEADER_STRUCT.size + len(name),
        "file_version": 7,
        "pixmap_format": 2,
        "pixmap_depth": 24 if bpp >= 3 else 16,
        "width": w,
        "height": h,
        "xoffset": 0,
        "byte_order": int(msb_first),
        "bitmap_unit": 32,
        "bitmap_bit_order": int(msb_first),
        "bitmap_pad": 32,
        "bits_per_pixel": bits_per_pixel,
        "bytes_per_line": bytes_per_line,
        "visual_class": 4,
        "red_mask": masks[0],
        "green_mask": masks[1],
        "blue_mask": masks[2],
        "bits_per_rgb": 8,
        "colormap_entries": 256,
        "ncolors": ncolors,
        "window_width": w,
        "window_height": h,
        "window_x": 0,
        "window_y": 0,
        "window_bdrwidth": 0,
    }
    fields.update(overrides or {})
    header = HEADER_STRUCT.pack(*fields.values())
    colours = b"".join(struct.pack(">IHHHBx", i, i * 257, 0, 0, 7) for i in range(ncolors))
    return header + name + colours + rows.tobytes()


def random_rgb(h: int = 5, w: int = 7, seed: int = 1) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("msb_first", [False, True], ids=["lsb", "msb"])
@pytest.mark.parametrize("masks", [RGB_MASKS, BGR_MASKS], ids=["rgb", "bgr"])
@pytest.mark.parametrize("bits_per_pixel", [32, 24])
def test_truecolour_24_bit(bits_per_pixel: int, masks: tuple[int, int, int], msb_first: bool):
    rgb = random_rgb()
    data = make_xwd(rgb, bits_per_pixel, msb_first, masks, pad_bytes=3, ncolors=4)
    out = read_xwd(data)
    assert out.dtype == np.uint8
    assert out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, rgb)


def test_header_fields_and_trailing_data():
    rgb = random_rgb(2, 3)
    data = make_xwd(rgb, name=b"a longer window name\0") + b"trailing junk"
    header = read_header(data)
    assert (header.width, header.height, header.bits_per_pixel) == (3, 2, 32)
    np.testing.assert_array_equal(read_xwd(data), rgb)


@pytest.mark.parametrize("msb_first", [False, True], ids=["lsb", "msb"])
def test_rgb565_is_scaled_up_with_rounding(msb_first: bool):
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [8, 4, 8], [132, 130, 123]]], dtype=np.uint8)
    out = read_xwd(make_xwd(rgb, 16, msb_first, RGB565_MASKS))
    wide = rgb.astype(np.int64)
    r5, g6, b5 = wide[..., 0] >> 3, wide[..., 1] >> 2, wide[..., 2] >> 3
    want = np.stack([(r5 * 255 + 15) // 31, (g6 * 255 + 31) // 63, (b5 * 255 + 15) // 31], -1)
    np.testing.assert_array_equal(out, want)
    assert out[0, 1].tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"file_version": 6}, "version"),
        ({"pixmap_format": 1}, "ZPixmap"),
        ({"visual_class": 3}, "TrueColor"),
        ({"bits_per_pixel": 12}, "bits per pixel"),
        ({"red_mask": 0xF0F000}, "contiguous"),
        ({"byte_order": 2}, "byte order"),
    ],
)
def test_rejects_what_it_cannot_read(overrides: dict[str, int], match: str):
    with pytest.raises(ValueError, match=match):
        read_xwd(make_xwd(random_rgb(), overrides=overrides))


def test_rejects_truncated_data():
    data = make_xwd(random_rgb())
    with pytest.raises(ValueError, match="truncated"):
        read_xwd(data[:-1])
    with pytest.raises(ValueError, match="too short"):
        read_xwd(data[:50])


def needs_xvfb() -> None:
    missing = missing_xvfb_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


@pytest.mark.parametrize(
    ("depth", "colour", "want"),
    [
        (24, "#123456", (0x12, 0x34, 0x56)),
        (24, "#fedcba", (0xFE, 0xDC, 0xBA)),
        (16, "#ff0000", (255, 0, 0)),
        (16, "#00ff00", (0, 255, 0)),
        (16, "#0000ff", (0, 0, 255)),
        (16, "#ffffff", (255, 255, 255)),
    ],
)
def test_real_xwd_of_a_solid_root(depth: int, colour: str, want: tuple[int, int, int]):
    needs_xvfb()
    with xvfb(depth=depth, width=64, height=48) as display:
        result = display.x("xsetroot", "-solid", colour)
        assert result.returncode == 0, result.stderr
        dump = display.x("xwd", "-root", "-silent", "-display", display.display_name).stdout
    header = read_header(dump)
    assert header.pixmap_depth == depth
    assert header.bits_per_pixel == (32 if depth == 24 else 16)
    out = read_xwd(dump)
    assert out.shape == (48, 64, 3)
    assert {tuple(px) for px in out.reshape(-1, 3).tolist()} == {want}
