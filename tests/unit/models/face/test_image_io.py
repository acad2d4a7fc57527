"""load_image: every input kind and awkward format becomes RGB uint8; bad input raises ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from models.errors import ImageError
from models.face.image_io import load_image


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 90)], axis=-1).astype(np.uint8)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_path_bytes_pil_and_array_agree(portrait_path):
    from_path = load_image(portrait_path)
    assert from_path.dtype == np.uint8 and from_path.shape == (512, 512, 3) and from_path.flags.c_contiguous
    assert np.array_equal(from_path, load_image(str(portrait_path)))
    assert np.array_equal(from_path, load_image(portrait_path.read_bytes()))
    assert np.array_equal(from_path, load_image(Image.open(portrait_path)))
    assert np.array_equal(from_path, load_image(from_path))


def test_exif_orientation_is_applied():
    arr = _gradient()
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = load_image(_encode(img, "JPEG", quality=98, exif=exif.tobytes()))
    assert out.shape == (64, 48, 3)  # width and height swapped
    expected = np.rot90(arr, -1)
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 3


def test_rgba_is_composited_on_white():
    arr = np.zeros((32, 32, 4), np.uint8)
    arr[..., 0] = 200
    arr[:, :16, 3] = 255  # left half opaque red, right half transparent
    out = load_image(_encode(Image.fromarray(arr, "RGBA"), "PNG"))
    assert tuple(out[5, 5]) == (200, 0, 0)
    assert tuple(out[5, 25]) == (255, 255, 255)


def test_greyscale_and_palette_become_three_channels():
    grey = _gradient()[..., 0]
    out = load_image(_encode(Image.fromarray(grey, "L"), "PNG"))
    assert out.shape == (48, 64, 3) and np.array_equal(out[..., 0], grey) and np.array_equal(out[..., 1], grey)
    pal = Image.fromarray(_gradient()).convert("P")
    assert load_image(_encode(pal, "PNG")).shape == (48, 64, 3)
    assert load_image(grey[..., None]).shape == (48, 64, 3)


def test_sixteen_bit_grey_png_scales_to_eight_bits():
    arr16 = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    out = load_image(_encode(Image.fromarray(arr16), "PNG"))
    assert out.dtype == np.uint8
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    assert abs(int(out[24, 32, 0]) - round(arr16[24, 32] / 257)) <= 1


def test_sixteen_bit_and_float_arrays():
    base = _gradient().astype(np.uint16) * 257
    assert np.array_equal(load_image(base), _gradient())
    assert np.array_equal(load_image(_gradient().astype(np.float32) / 255.0), _gradient())
    assert load_image(np.ones((20, 20), bool))[0, 0, 0] == 255


def test_very_large_image_is_downscaled():
    big = np.zeros((5000, 3000, 3), np.uint8)
    big[:, :1500] = 255
    out = load_image(big)
    assert max(out.shape[:2]) == 4096 and out.shape[:2] == (4096, 2458)
    assert out[100, 10, 0] == 255 and out[100, -10, 0] == 0
    assert max(load_image(big, max_side=1024).shape[:2]) == 1024


@pytest.mark.parametrize(
    "bad",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, np.zeros((4, 4, 3), np.uint8)],
    ids=["empty", "garbage", "truncated-png", "tiny"],
)
def test_unreadable_input_raises_image_error(bad):
    with pytest.raises(ImageError):
        load_image(bad)


def test_missing_file_and_bad_arrays(tmp_path):
    with pytest.raises(ImageError):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError):
        load_image(np.zeros((32, 32, 2), np.uint8))
    with pytest.raises(ImageError):
        load_image(np.full((32, 32, 3), np.nan, np.float32))
    with pytest.raises(ImageError):
        load_image(np.zeros((32, 32, 3), np.int64))
    with pytest.raises(ImageError):
        load_image(np.zeros((32, 32, 3), np.uint8)[:, :0])


def test_wrong_type_is_a_type_error():
    with pytest.raises(TypeError):
        load_image(12345)
