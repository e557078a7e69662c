import functools
from pathlib import Path

import numpy as np
import pytest
import tifffile

from nas.data import DataError
from nas.data.images import ImageMetadata, read_image, read_image_metadata, write_image


@pytest.mark.parametrize("name, bits", [("a.png", 8), ("a.png", 16), ("a.tif", 8), ("a.tiff", 16)])
def test_lossless_formats_round_trip_at_their_bit_depth(tmp_path, name, bits):
    levels = 2**bits - 1
    image = (
        np.random.default_rng(0).integers(0, levels + 1, (3, 20, 30)).astype(np.float32) / levels
    )
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


def test_failed_write_keeps_the_existing_file(tmp_path, monkeypatch):
    import PIL.Image

    path = tmp_path / "keep.png"
    write_image(path, np.zeros((3, 8, 8), np.float32))
    before = path.read_bytes()
    with pytest.raises(DataError, match="cannot store an array of shape"):
        write_image(path, np.zeros((3, 8, 8, 2), np.float32))  # not an image shape

    def disk_full_halfway(image, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PIL.Image.Image, "save", disk_full_halfway)
    with pytest.raises(OSError, match="No space left"):
        write_image(path, np.ones((3, 8, 8), np.float32))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_16bit_png_with_fewer_significant_bits_is_full_scale(tmp_path):
    import png

    with open(
        tmp_path / "p12.png", "wb"
    ) as handle:  # a 12-bit sBIT chunk: pypng rescales to 12 bits
        png.Writer(4, 4, greyscale=False, bitdepth=12).write(handle, [[4095] * 12] * 4)
    image, bits = read_image(tmp_path / "p12.png")
    assert bits == 16 and image.max() == pytest.approx(1.0)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    photo = Image.fromarray(np.zeros((40, 64, 3), np.uint8))
    exif = photo.getexif()
    exif[0x112] = 6  # rotate 90 degrees to display
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
    length = struct.unpack(">I", data[start - 4 : start])[0]
    data[start + 4 : start + 4 + length] = bytes([0xFF]) * length  # garbage, with a valid CRC
    data[start + 4 + length : start + 8 + length] = struct.pack(
        ">I", zlib.crc32(bytes(data[start : start + 4 + length]))
    )
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(DataError, match="bad.png"):
        read_image(tmp_path / "bad.png")


# --- colour profile and EXIF -------------------------------------------------------------------


@functools.cache
def srgb_icc():
    """One profile for the whole module: a new one carries the current time in its header, so
    two made a second apart differ."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation=None):
    from PIL import Image

    exif = Image.Exif()
    exif[0x10F], exif[0x110], exif[0x132] = (
        "Pixel",
        "Pixel 8 Pro",
        "2024:05:06 07:08:09",
    )  # Make, Model, DateTime
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    if orientation:
        exif[0x112] = orientation
    return exif


def seen_by_pillow(path):
    """(ICC profile, EXIF) as another program (Pillow) reads them from ``path``."""
    from PIL import Image

    with Image.open(path) as image:
        return image.info.get("icc_profile"), image.getexif()


def save_photo(path, pixels, **params):
    from PIL import Image

    Image.fromarray(pixels).save(path, **params)
    return path


@pytest.mark.parametrize("name, bits", [("a.png", 8), ("a.png", 16), ("a.jpg", 8)])
def test_icc_profile_and_exif_round_trip(tmp_path, name, bits):
    src = save_photo(
        tmp_path / "src.jpg",
        np.zeros((12, 16, 3), np.uint8),
        icc_profile=srgb_icc(),
        exif=camera_exif(),
    )
    metadata = read_image_metadata(src)
    write_image(tmp_path / name, np.full((3, 12, 16), 0.5, np.float32), bits, metadata=metadata)
    icc, exif = seen_by_pillow(tmp_path / name)
    assert icc == srgb_icc()
    assert (exif[0x10F], exif[0x110], exif[0x132]) == (
        "Pixel",
        "Pixel 8 Pro",
        "2024:05:06 07:08:09",
    )
    assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    assert read_image(tmp_path / name)[1] == bits
    assert read_image_metadata(tmp_path / name) == metadata


@pytest.mark.parametrize("bits", [8, 16])
def test_tiff_keeps_the_icc_profile(tmp_path, bits):
    metadata = ImageMetadata(icc=srgb_icc(), exif=None)
    write_image(tmp_path / "a.tif", np.full((3, 12, 16), 0.5, np.float32), bits, metadata=metadata)
    with tifffile.TiffFile(tmp_path / "a.tif") as tiff:
        assert tiff.pages[0].tags[34675].value == srgb_icc()
    assert read_image_metadata(tmp_path / "a.tif").icc == srgb_icc()
    assert read_image(tmp_path / "a.tif")[1] == bits


def test_icc_profile_of_a_16bit_tiff_that_pillow_cannot_open(tmp_path):
    src = tmp_path / "f.tif"
    tifffile.imwrite(
        src, np.full((8, 8, 3), 0.5, np.float32), photometric="rgb", iccprofile=srgb_icc()
    )
    assert read_image(src)[1] == 32
    assert read_image_metadata(src) == ImageMetadata(icc=srgb_icc(), exif=None)


def test_exif_of_a_tiff_input_goes_to_a_png(tmp_path):
    src = save_photo(
        tmp_path / "src.tif", np.zeros((12, 16, 3), np.uint8), exif=camera_exif(6).tobytes()
    )
    assert read_image(src)[0].shape == (3, 12, 16)  # tifffile does not rotate: stored order
    write_image(
        tmp_path / "out.png", np.zeros((3, 12, 16), np.float32), metadata=read_image_metadata(src)
    )
    exif = seen_by_pillow(tmp_path / "out.png")[1]
    assert (exif[0x10F], exif[0x110], exif[0x132]) == (
        "Pixel",
        "Pixel 8 Pro",
        "2024:05:06 07:08:09",
    )
    assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    assert exif[0x112] == 6  # so a viewer still turns it upright
    assert 273 not in exif and 256 not in exif  # not the TIFF's own strip offsets and width


@pytest.mark.parametrize("name", ["src.jpg", "src.png"])
@pytest.mark.parametrize("out", ["out.jpg", "out.png"])
def test_rotated_input_is_written_upright_with_orientation_1(tmp_path, name, out):
    from PIL import Image, ImageOps

    stored = np.zeros((32, 48, 3), np.uint8)
    stored[:8, :16] = 255  # a white block at the stored top left
    src = save_photo(
        tmp_path / name, stored, exif=camera_exif(orientation=6), icc_profile=srgb_icc()
    )
    image, bits = read_image(src)
    assert image.shape == (3, 48, 32)  # upright: a portrait photo
    write_image(tmp_path / out, image, bits, metadata=read_image_metadata(src))
    exif = seen_by_pillow(tmp_path / out)[1]
    assert exif.get(0x112, 1) == 1 and exif[0x110] == "Pixel 8 Pro"
    with Image.open(src) as before, Image.open(tmp_path / out) as after:  # as a viewer shows them
        shown_before = np.asarray(ImageOps.exif_transpose(before), np.float32)
        shown_after = np.asarray(ImageOps.exif_transpose(after), np.float32)
    assert shown_after.shape == shown_before.shape == (48, 32, 3)
    assert np.abs(shown_after - shown_before).mean() < 2


@pytest.mark.parametrize(
    "name, bits", [("out.png", 8), ("out.png", 16), ("out.jpg", 8), ("out.tif", 16)]
)
def test_input_without_metadata_gives_output_without_it(tmp_path, name, bits):
    src = save_photo(tmp_path / "plain.png", np.zeros((12, 16, 3), np.uint8))
    metadata = read_image_metadata(src)
    assert metadata == ImageMetadata(icc=None, exif=None)
    write_image(tmp_path / name, np.zeros((3, 12, 16), np.float32), bits, metadata=metadata)
    icc, exif = seen_by_pillow(tmp_path / name)
    assert icc is None and not exif.get(0x10F)
    assert read_image_metadata(tmp_path / name) == ImageMetadata(icc=None, exif=None)


def test_16bit_png_rotation_flag_is_kept_since_its_pixels_are_not_rotated(tmp_path):
    import png
    from PIL import Image

    with open(tmp_path / "p16.png", "wb") as handle:
        png.Writer(16, 8, greyscale=False, bitdepth=16).write(handle, [[1000] * 48] * 8)
    exif = camera_exif(orientation=6).tobytes()
    write_image(
        tmp_path / "src.png",
        read_image(tmp_path / "p16.png")[0],
        16,
        metadata=ImageMetadata(icc=None, exif=exif),
    )
    image, _ = read_image(tmp_path / "src.png")
    assert image.shape == (3, 8, 16)  # stored order: pypng does not rotate
    kept = Image.Exif()
    kept.load(read_image_metadata(tmp_path / "src.png").exif)
    assert kept[0x112] == 6  # so a viewer still turns the output upright


def test_exif_too_long_for_a_jpeg_is_left_out_of_it(tmp_path):
    exif = camera_exif()
    exif[0x10E] = "x" * 70000  # ImageDescription: beyond a JPEG segment's 64 KiB
    metadata = ImageMetadata(icc=srgb_icc(), exif=exif.tobytes())
    write_image(tmp_path / "a.jpg", np.zeros((3, 8, 8), np.float32), metadata=metadata)
    write_image(tmp_path / "a.png", np.zeros((3, 8, 8), np.float32), metadata=metadata)
    assert read_image_metadata(tmp_path / "a.jpg") == ImageMetadata(icc=srgb_icc(), exif=None)
    assert seen_by_pillow(tmp_path / "a.png")[1][0x10E] == "x" * 70000


def test_icc_profile_of_another_colour_space_is_not_attached(tmp_path):
    cmyk = bytearray(srgb_icc())
    cmyk[16:20] = b"CMYK"  # the header's data colour space
    metadata = ImageMetadata(icc=bytes(cmyk), exif=camera_exif().tobytes())
    write_image(tmp_path / "rgb.png", np.zeros((3, 8, 8), np.float32), metadata=metadata)
    write_image(
        tmp_path / "grey.png", np.zeros((8, 8), np.float32), metadata=ImageMetadata(icc=srgb_icc())
    )
    icc, exif = seen_by_pillow(tmp_path / "rgb.png")
    assert icc is None and exif[0x110] == "Pixel 8 Pro"
    assert seen_by_pillow(tmp_path / "grey.png")[0] is None


def test_cmyk_jpeg_reads_as_its_rgb_colours(tmp_path):
    from PIL import Image

    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(
        tmp_path / "red.jpg", quality=100
    )  # pure red in CMYK
    pixels, bits = read_image(tmp_path / "red.jpg")
    assert bits == 8 and pixels.shape == (3, 8, 16)
    np.testing.assert_allclose(pixels.mean(axis=(1, 2)), [1, 0, 0], atol=0.03)


def test_an_image_over_pillows_pixel_limit_is_one_data_error(tmp_path, monkeypatch):
    from PIL import Image

    write_image(tmp_path / "big.png", np.zeros((3, 64, 64)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64 x 64 is then over twice the limit
    with pytest.raises(DataError, match="big.png"):
        read_image(tmp_path / "big.png")


def test_a_grey_image_is_a_mosaic_and_is_never_rotated(tmp_path):
    # Turning a Bayer mosaic would change its CFA pattern; grey images are read in stored order.
    from PIL import Image

    mosaic = Image.fromarray(np.arange(40 * 64, dtype=np.uint16).reshape(40, 64).astype(np.uint8))
    mosaic.save(tmp_path / "mosaic.png", exif=camera_exif(orientation=6))
    pixels, _ = read_image(tmp_path / "mosaic.png")
    np.testing.assert_array_equal(pixels * 255, np.asarray(mosaic, np.float32))
