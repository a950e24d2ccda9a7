"""Pure mask maths: unstructured (per matrix / per row), N:M, Wanda scores."""

from __future__ import annotations

import pytest
import torch
from kick_prune.masks import nm_mask, prune_mask, unstructured_mask, wanda_score

from kick.errors import SpecError
from kick.types import parse_pattern

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.3, 0.5, 0.77])
def test_unstructured_mask_prunes_target_count_per_matrix(sparsity: float) -> None:
    score = torch.rand(37, 53, generator=torch.Generator().manual_seed(1))
    mask = unstructured_mask(score, sparsity)
    assert abs(int(mask.sum()) - 37 * 53 * sparsity) < 1
    # every pruned score is <= every kept score
    if mask.any():
        assert score[mask].max() <= score[~mask].min()


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.9])
def test_per_row_mask_prunes_int_cols_x_sparsity_lowest_in_each_row_as_wanda(sparsity: float) -> None:
    score = torch.rand(29, 43, generator=torch.Generator().manual_seed(2))  # 43 x s is not an integer
    mask = unstructured_mask(score, sparsity, per_row=True)
    assert mask.sum(dim=1).tolist() == [int(43 * sparsity)] * 29  # the reference's per-row count
    for r in range(29):
        if mask[r].any():
            assert score[r][mask[r]].max() < score[r][~mask[r]].min()


@pytest.mark.parametrize(("n", "m"), [(2, 4), (4, 8), (1, 4)])
def test_nm_mask_keeps_n_largest_in_every_group_of_m(n: int, m: int) -> None:
    score = torch.rand(16, 64, generator=torch.Generator().manual_seed(3))
    mask = nm_mask(score, n, m)
    kept = (~mask).reshape(16, 64 // m, m)
    assert bool((kept.sum(-1) == n).all())
    groups = score.reshape(16, 64 // m, m)
    expected_kept = torch.zeros_like(kept)
    expected_kept.scatter_(-1, groups.topk(n, dim=-1).indices, True)
    assert torch.equal(kept, expected_kept)


def test_nm_mask_rejects_group_size_not_dividing_width() -> None:
    with pytest.raises(SpecError, match="does not divide"):
        nm_mask(torch.rand(4, 10), 2, 4)


@pytest.mark.parametrize("bad", ["4:4", "5:4", "0:4", "2-4", "dense"])
def test_bad_pattern_is_a_spec_error(bad: str) -> None:
    with pytest.raises(SpecError, match=f"pattern '{bad}': "):
        parse_pattern(bad)


def test_pattern_parsing() -> None:
    assert parse_pattern("unstructured") is None
    assert parse_pattern("2:4") == (2, 4)
    assert parse_pattern(" 4 : 8 ") == (4, 8)


def test_wanda_keeps_exactly_the_top_scores_per_row() -> None:
    gen = torch.Generator().manual_seed(4)
    w = torch.randn(8, 32, generator=gen)
    norms = torch.rand(32, generator=gen) * 10
    mask = prune_mask(wanda_score(w, norms), 0.5, None, per_row=True)
    score = w.abs() * norms
    for r in range(8):
        top = set(score[r].topk(16).indices.tolist())
        assert set((~mask[r]).nonzero().flatten().tolist()) == top


def test_magnitude_equals_wanda_when_all_input_norms_are_equal() -> None:
    w = torch.randn(16, 64, generator=torch.Generator().manual_seed(5))
    equal = torch.full((64,), 3.7)
    # N:M: magnitude and Wanda both compare within the same groups
    assert torch.equal(
        prune_mask(w.abs(), 0.5, (2, 4)), prune_mask(wanda_score(w, equal), 0.5, (2, 4), per_row=True)
    )
    # unstructured: Wanda's per-row comparison equals magnitude compared per row
    assert torch.equal(
        prune_mask(w.abs(), 0.5, None, per_row=True),
        prune_mask(wanda_score(w, equal), 0.5, None, per_row=True),
    )


def test_lowest_k_mask_breaks_ties_by_position_and_is_exact() -> None:
    from kick_prune.masks import lowest_k_mask

    score = torch.tensor([[1.0, 0.5, 0.5], [0.5, 2.0, 0.5]])
    assert lowest_k_mask(score, 3).tolist() == [[False, True, True], [True, False, False]]
    assert int(lowest_k_mask(score, 0).sum()) == 0 and int(lowest_k_mask(score, 6).sum()) == 6


def test_sparsegpt_block_mask_is_the_references_threshold_rule() -> None:
    from kick_prune.sparsegpt_math import block_mask

    score = torch.rand(16, 9, generator=torch.Generator().manual_seed(4))  # 144 scores, no ties
    mask = block_mask(score, 0.3)
    threshold = torch.sort(score.flatten()).values[int(144 * 0.3)]
    assert int(mask.sum()) == int(144 * 0.3) + 1 and torch.equal(mask, score <= threshold)
    tied = torch.tensor([[1.0, 2.0, 2.0, 2.0], [3.0, 2.0, 4.0, 5.0]])  # sorted: 1 2 2 2 2 3 4 5
    assert int(block_mask(tied, 0.25).sum()) == 5  # index 2 holds 2.0: every 2.0 goes, as in the reference
    assert not block_mask(tied, 0.0).any()
