"""mmSSR selection invariants and the baselines, on synthetic scored pools."""

from __future__ import annotations

import numpy as np
import pytest

from annotators.selection.baselines import (
    deita_select,
    kmeans_select,
    proportional_quotas,
    random_select,
)
from annotators.selection.common import bin_codes, resolve_budget
from annotators.selection.mmssr import mmssr_select

STYLE_SETS = [["yes/no"], ["multi-choice"], ["short description"], ["coordinate", "comparison"]]


def pool(n=2000, capabilities=14, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(n, capabilities)).astype(np.float32)
    styles = [STYLE_SETS[i % len(STYLE_SETS)] for i in range(n)]
    sources = ["coco" if i % 3 else "textvqa" for i in range(n)]
    return scores, styles, sources


@pytest.mark.parametrize("budget", [1, 13, 14, 100, 777, 1500])
def test_exact_budget_no_duplicates_and_balance(budget):
    scores, styles, sources = pool()
    selected, capability_of = mmssr_select(scores, bin_codes(styles, sources), budget, seed=3)
    chosen = np.flatnonzero(selected)
    assert len(chosen) == budget == len(set(chosen.tolist()))
    per_capability = np.bincount(capability_of[selected], minlength=14)
    assert per_capability.max() - per_capability.min() <= 1
    # every selected sample was chosen for a capability it scores above the threshold on
    assert (scores[chosen, capability_of[chosen]] > 0).all()


def test_every_style_source_bin_represented_when_budget_allows():
    scores, styles, sources = pool()
    bins = bin_codes(styles, sources)
    n_bins = len(np.unique(bins))
    selected, _ = mmssr_select(scores, bins, 14 * n_bins, seed=0)
    assert set(np.unique(bins[selected])) == set(np.unique(bins))


def test_small_bins_visited_first():
    scores = np.full((100, 1), 5.0, np.float32)
    styles = [["yes/no"]] * 95 + [["coordinate"]] * 5  # a rare bin, same scores
    selected, _ = mmssr_select(scores, bin_codes(styles, None), 10, seed=0)
    assert selected[95:].sum() == 5  # the rare bin gets its full quota


def test_higher_scores_first_within_a_bin():
    scores = np.arange(50, dtype=np.float32)[:, None] % 6
    selected, _ = mmssr_select(scores, np.zeros(50, np.int64), 8, seed=0)
    assert (scores[selected, 0] == 5).all()


def test_same_seed_same_selection_and_seed_breaks_ties():
    scores = np.ones((500, 14), np.float32)  # all tied: only the seed orders them
    bins = np.zeros(500, np.int64)
    first, _ = mmssr_select(scores, bins, 50, seed=7)
    again, _ = mmssr_select(scores, bins, 50, seed=7)
    other, _ = mmssr_select(scores, bins, 50, seed=8)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_budget_above_pool_takes_every_candidate():
    scores, styles, sources = pool(n=200)
    scores[:10] = 0  # never a candidate
    selected, _ = mmssr_select(scores, bin_codes(styles, sources), 10_000)
    assert selected.sum() == 190 and not selected[:10].any()


def test_every_score_zero_selects_nothing_without_crashing():
    scores = np.zeros((100, 14), np.float32)
    selected, capability_of = mmssr_select(scores, np.zeros(100, np.int64), 30)
    assert selected.sum() == 0 and (capability_of == -1).all()


def test_capabilities_running_out_before_budget():
    scores = np.zeros((300, 14), np.float32)
    scores[:20, 0] = 3  # only 20 candidates in total
    scores[20:25, 5] = np.nan  # unscored never counts
    selected, _ = mmssr_select(scores, np.zeros(300, np.int64), 100)
    assert selected.sum() == 20 and selected[:20].all()


def test_one_capability_and_no_source():
    scores, styles, _ = pool(n=300, capabilities=1)
    selected, capability_of = mmssr_select(scores, bin_codes(styles, None), 60)
    assert selected.sum() == 60 and set(capability_of[selected]) == {0}


def test_ineligible_samples_are_not_selected():
    scores, styles, sources = pool(n=300)
    eligible = np.arange(300) % 2 == 0
    selected, _ = mmssr_select(scores, bin_codes(styles, sources), 100, eligible=eligible)
    assert selected.sum() == 100 and not selected[~eligible].any()


def test_resolve_budget():
    assert resolve_budget(0.3, 1000) == 300
    assert resolve_budget(1, 1000) == 1000
    assert resolve_budget(250, 1000) == 250
    assert resolve_budget(5000, 1000) == 1000
    assert resolve_budget(0.0001, 10) == 1
    with pytest.raises(ValueError):
        resolve_budget(2.5, 10)


def test_random_select_budget_and_seed():
    eligible = np.arange(100) % 3 != 0
    a = random_select(eligible, 20, seed=1)
    assert a.sum() == 20 and not a[~eligible].any()
    assert np.array_equal(a, random_select(eligible, 20, seed=1))


def unit_vectors(n, d=16, seed=0):
    vectors = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_deita_keeps_selected_set_diverse_and_prefers_scores():
    vectors = unit_vectors(300)
    vectors[150:] = vectors[:150]  # every sample has an identical twin
    scores = np.random.default_rng(0).uniform(0, 5, size=(300, 14)).astype(np.float32)
    selected = deita_select(scores, vectors, np.ones(300, bool), 100, tau=0.9)
    chosen = vectors[selected]
    similarity = chosen @ chosen.T
    np.fill_diagonal(similarity, -1)
    assert selected.sum() == 100 and similarity.max() <= 0.9
    best = np.argmax(scores.mean(axis=1))
    assert selected[best]


def test_kmeans_proportional_sampling():
    centres = unit_vectors(3, seed=1) * 10
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    vectors = centres[labels] + unit_vectors(1000, seed=2) * 0.1
    selected = kmeans_select(vectors, np.ones(1000, bool), 100, clusters=3)
    assert selected.sum() == 100
    assert np.bincount(labels[selected], minlength=3).tolist() == [60, 30, 10]


def test_proportional_quotas_sum_exactly():
    quotas = proportional_quotas(np.array([7, 1, 1, 0, 13]), 11)
    assert quotas.sum() == 11 and (quotas <= [7, 1, 1, 0, 13]).all()
