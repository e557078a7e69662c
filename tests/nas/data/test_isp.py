import torch

from nas.data.isp import demosaic_bilinear, process, srgb_pairs_from_rgb
from nas.data.unprocess import mosaic, unprocess_with_params


def test_bilinear_demosaic_restores_a_flat_colour():
    rgb = torch.tensor([0.2, 0.5, 0.7]).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    torch.testing.assert_close(demosaic_bilinear(mosaic(rgb)), rgb)


def test_process_inverts_unprocess():
    # Smooth photo-like content: bilinear demosaicing is then nearly exact, so the ISP must bring
    # the unprocessed mosaic back to the sRGB it came from (colour matrix, gains, gamma, tone).
    y, x = torch.meshgrid(torch.linspace(0.1, 0.9, 32), torch.linspace(0.1, 0.9, 32), indexing="ij")
    rgb = torch.stack([y, x, (x + y) / 2])[None].repeat(4, 1, 1, 1)
    linear, camera = unprocess_with_params(rgb, torch.Generator().manual_seed(0))
    back = process(mosaic(linear), camera)
    assert (back - rgb)[..., 2:-2, 2:-2].abs().max() < 0.02


def test_pairs_are_seeded():
    rgb = torch.rand(2, 3, 16, 16)
    a = srgb_pairs_from_rgb(rgb, torch.Generator().manual_seed(5))
    b = srgb_pairs_from_rgb(rgb, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
