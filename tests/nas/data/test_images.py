import numpy as np
import pytest
import tifffile

from nas.data import DataError
from nas.data.images import read_image, write_image


@pytest.mark.parametrize("name, bits", [("a.png", 8), ("a.png", 16), ("a.tif", 8), ("a.tiff", 16)])
def test_lossless_formats_round_trip_at_their_bit_depth(tmp_path, name, bits):
    levels = 2 ** bits - 1
    image = np.random.default_rng(0).integers(0, levels + 1, (3, 20, 30)).astype(np.float32) / levels
    write_image(tmp_path / name, image, bits)
    back, read_bits = read_image(tmp_path / name)
    assert read_bits == bits and back.shape == (3, 20, 30)
    np.testing.assert_allclose(back, image, atol=1e-6)


def test_jpeg_is_8bit_and_close(tmp_path):
    image = np.full((3, 16, 16), 0.5, np.float32)
    write_image(tmp_path / "a.jpg", image, bits=16)
    back, bits = read_image(tmp_path / "a.jpg")
    assert bits == 8 and np.abs(back - image).max() < 3 / 255


def test_grey_image_is_2d(tmp_path):
    write_image(tmp_path / "g.png", np.full((10, 12), 0.25, np.float32))
    assert read_image(tmp_path / "g.png")[0].shape == (10, 12)


def test_float_tiff_outside_unit_range_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", np.full((8, 8, 3), 2.0, np.float32))
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        read_image(tmp_path / "f.tif")


@pytest.mark.parametrize("name", ["x.png", "x.jpg", "x.tif"])
def test_garbage_is_a_one_line_data_error(tmp_path, name):
    (tmp_path / name).write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=name) as info:
        read_image(tmp_path / name)
    assert "\n" not in str(info.value)


def test_failed_write_keeps_the_existing_file(tmp_path):
    path = tmp_path / "keep.png"
    write_image(path, np.zeros((3, 8, 8), np.float32))
    before = path.read_bytes()
    with pytest.raises(Exception):
        write_image(path, np.zeros((3, 8, 8, 2), np.float32))   # not an image shape
    assert path.read_bytes() == before


def test_16bit_png_with_fewer_significant_bits_is_full_scale(tmp_path):
    import png
    with open(tmp_path / "p12.png", "wb") as handle:      # a 12-bit sBIT chunk: pypng rescales to 12 bits
        png.Writer(4, 4, greyscale=False, bitdepth=12).write(handle, [[4095] * 12] * 4)
    image, bits = read_image(tmp_path / "p12.png")
    assert bits == 16 and image.max() == pytest.approx(1.0)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    from PIL import Image
    photo = Image.fromarray(np.zeros((40, 64, 3), np.uint8))
    exif = photo.getexif()
    exif[0x112] = 6                                        # rotate 90 degrees to display
    photo.save(tmp_path / "portrait.jpg", exif=exif)
    assert read_image(tmp_path / "portrait.jpg")[0].shape == (3, 64, 40)


def test_png_with_a_corrupt_stream_is_a_data_error(tmp_path):
    import struct
    import zlib
    import png
    with open(tmp_path / "ok.png", "wb") as handle:
        png.Writer(8, 8, greyscale=False, bitdepth=16).write(handle, [[1000] * 24] * 8)
    data = bytearray((tmp_path / "ok.png").read_bytes())
    start = data.index(b"IDAT")
    length = struct.unpack(">I", data[start - 4:start])[0]
    data[start + 4:start + 4 + length] = bytes([0xFF]) * length            # garbage, with a valid CRC
    data[start + 4 + length:start + 8 + length] = struct.pack(">I", zlib.crc32(bytes(data[start:start + 4 + length])))
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(DataError, match="bad.png"):
        read_image(tmp_path / "bad.png")
