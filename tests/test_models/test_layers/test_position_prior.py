"""grid_centers and position_prior: where a kernel was taken, and the Gaussian around it."""
import torch

from mmpfcn.models.layers import grid_centers, position_prior


def test_grid_centers_are_cell_centres_as_fractions_of_the_grid():
    # Flat positions 0, 9 and 31 of a 4 x 8 grid: (row, col) (0, 0), (1, 1), (3, 7).
    centers = grid_centers(torch.tensor([[0, 9, 31]]), 4, 8, 2.0)
    expected = torch.tensor([[[0.5 / 8, 0.5 / 4, 0.25], [1.5 / 8, 1.5 / 4, 0.25],
                              [7.5 / 8, 3.5 / 4, 0.25]]])
    torch.testing.assert_close(centers, expected)


def test_prior_is_the_gaussian_log_density_on_the_map():
    # Cell (row 1, col 2) of an 8 x 8 level: centre (x 4.5, y 2.5) on a 16 x 16 map, sigma of
    # 1.5 cells = 3 map pixels.
    centers = grid_centers(torch.tensor([10]), 8, 8, 1.5)
    prior = position_prior(centers, (16, 16)).reshape(16, 16)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing='ij')
    expected = -((ys - 2.5)**2 + (xs - 4.5)**2) / (2 * 3.0**2)
    torch.testing.assert_close(prior, expected)
    assert prior.max() == prior[2:4, 4:6].max() and prior.max() > -0.06


def test_zero_sigma_fades_the_whole_mask_finitely():
    prior = position_prior(torch.tensor([[0.5, 0.5, 0.0]]), (8, 8))
    assert torch.isfinite(prior).all() and prior.max() < -1e4
