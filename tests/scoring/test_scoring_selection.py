"""mmSSR selection invariants and the baselines, on synthetic scored pools."""

from __future__ import annotations

import numpy as np
import pytest

from annotators.selection.baselines import (
    deita_select,
    kmeans_select,
    mean_score,
    proportional_quotas,
    random_select,
)
from annotators.selection.common import resolve_budget
from annotators.selection.mmssr import mmssr_select, style_bins

STYLE_SETS = [["yes/no"], ["multi-choice"], ["short description"], ["coordinate", "comparison"]]


def pool(n=2000, capabilities=14, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(n, capabilities)).astype(np.float32)
    styles = [STYLE_SETS[i % len(STYLE_SETS)] for i in range(n)]
    sources = ["coco" if i % 3 else "textvqa" for i in range(n)]
    return scores, styles, sources


def run(scores, styles, sources, budget, **kwargs):
    return mmssr_select(scores, style_bins(styles, sources), budget, **kwargs)


def reference_select_call(rows_in_score_order, styles, sources, b):
    """The reference's `select` on one capability, as a plain loop (REFERENCE.md section 5)."""
    bins: dict[str, list[int]] = {}
    for k in range(max(len(styles[r]) for r in rows_in_score_order)):  # melt: first styles first
        for r in rows_in_score_order:
            if k < len(styles[r]):
                bins.setdefault(f"{styles[r][k]}+{sources[r]}", []).append(r)
    ordered = sorted(sorted(bins.items()), key=lambda item: len(item[1]))
    quota, debt, taken = max(b // len(ordered), 1), 0, []
    for _, members in ordered:
        if len(taken) >= b:
            break
        free = [r for r in members if r not in taken]
        take = min(quota + debt, len(free))
        debt = max(quota + debt - len(free), 0)
        taken += free[:take]
    return taken


def test_select_call_matches_the_reference_rule_on_a_hand_checked_case():
    # 6 rows in score order; row 1 has two styles. Bins: a+s {0, 1}, b+s {1(2nd), 2, 3, 4, 5}.
    styles = [["a"], ["a", "b"], ["b"], ["b"], ["b"], ["b"]]
    sources = ["s"] * 6
    scores = np.array([[6], [5], [4], [3], [2], [1]], np.float32)
    # b = 3, two bins, quota 1: a+s (smaller) gives row 0; b+s gives 1 + debt 0 = row 2 (its
    # first-style rows come first: 2, 3, 4, 5, then row 1); the last bin takes only q + debt, so
    # the call takes 2 of 3 and the third slot waits for the next round.
    result = run(scores, styles, sources, 3)
    assert reference_select_call(list(range(6)), styles, sources, 3) == [0, 2]
    assert result.rounds == 2 and result.selected.sum() == 3
    # round 2: per_cap 1; bins a+s {1}, b+s {3, 4, 5, 1}: a+s is smaller -> row 1
    assert np.flatnonzero(result.selected).tolist() == [0, 1, 2]


@pytest.mark.parametrize("budget", [1, 13, 14, 100, 777, 1500])
def test_exact_budget_and_no_duplicates(budget):
    scores, styles, sources = pool()
    result = run(scores, styles, sources, budget)
    chosen = np.flatnonzero(result.selected)
    assert len(chosen) == budget and result.shortfall == 0
    # every selected sample was chosen for a capability it scores above the threshold on
    assert (scores[chosen, result.capability_of[chosen]] > 0).all()


def test_first_capability_round_matches_the_plain_reference_loop():
    scores, styles, sources = pool(n=300, capabilities=1, seed=4)
    budget = 40
    order = sorted(np.flatnonzero(scores[:, 0] > 0), key=lambda r: (-scores[r, 0], r))
    expected = reference_select_call(order, styles, sources, budget)
    result = mmssr_select(scores, style_bins(styles, sources), len(expected))
    assert sorted(expected) == np.flatnonzero(result.selected).tolist()


def test_small_bins_visited_first():
    scores = np.full((100, 1), 5.0, np.float32)
    styles = [["yes/no"]] * 95 + [["coordinate"]] * 5  # a rare bin, same scores
    result = run(scores, styles, None, 10)
    assert result.selected[95:].sum() == 5  # the rare bin gets its full quota


def test_higher_scores_first_within_a_bin():
    scores = np.arange(50, dtype=np.float32)[:, None] % 6
    result = run(scores, [["a"]] * 50, None, 8)
    assert (scores[result.selected, 0] == 5).all()


def test_ties_follow_the_tie_rank():
    scores = np.ones((500, 3), np.float32)  # all tied: only the tie rank orders them
    styles = [["a"]] * 500
    first = run(scores, styles, None, 50)
    assert np.flatnonzero(first.selected).tolist() == list(range(50))
    reverse = run(scores, styles, None, 50, tie_rank=np.arange(500)[::-1].copy())
    assert np.flatnonzero(reverse.selected).tolist() == list(range(450, 500))


def test_capability_order_is_kept_across_rounds():
    # capability 1 would take the row first if the order changed; capability 0 always goes first
    scores = np.zeros((4, 2), np.float32)
    scores[:, 0] = [5, 4, 0, 0]
    scores[:, 1] = [5, 4, 3, 2]
    result = run(scores, [["a"]] * 4, None, 3)
    assert result.capability_of.tolist()[:2] == [0, 1]


def test_shortfall_when_every_capability_runs_out():
    scores = np.zeros((300, 14), np.float32)
    scores[:20, 0] = 3  # only 20 candidates in total
    scores[20:25, 5] = np.nan  # unscored never counts
    result = run(scores, [["a"]] * 300, None, 100)
    assert result.selected.sum() == 20 and result.selected[:20].all()
    assert result.shortfall == 80 and len(result.dropped) == 14


def test_every_score_zero_selects_nothing_without_crashing():
    scores = np.zeros((100, 14), np.float32)
    result = run(scores, [["a"]] * 100, None, 30)
    assert result.selected.sum() == 0 and (result.capability_of == -1).all()
    assert result.shortfall == 30


def test_ineligible_samples_are_not_selected():
    scores, styles, sources = pool(n=300)
    eligible = np.arange(300) % 2 == 0
    result = run(scores, styles, sources, 100, eligible=eligible)
    assert result.selected.sum() == 100 and not result.selected[~eligible].any()


def test_style_bins_multi_style_rows_and_missing_styles():
    entries = style_bins([["b", "a", "b"], [], None, ["a"]], ["x", None, "y", "x"])
    assert entries.keys == ["+", "+y", "a+x", "b+x"]
    found = sorted(zip(entries.rows.tolist(), entries.rank.tolist(),
                       [entries.keys[c] for c in entries.bins], strict=True))
    assert found == [(0, 0, "b+x"), (0, 1, "a+x"), (1, 0, "+"), (2, 0, "+y"), (3, 0, "a+x")]


def test_float_and_integer_scores_give_the_same_order():
    scores, styles, sources = pool(n=500, seed=2)
    integer = run(scores, styles, sources, 120)
    shifted = run(scores + 0.25, styles, sources, 120, threshold=0.25)  # not integers any more
    assert np.array_equal(integer.selected, shifted.selected)


def test_resolve_budget():
    assert resolve_budget(0.3, 1000) == 300
    assert resolve_budget(0.3, 999) == 299  # int(N * ratio), as mmSSR
    assert resolve_budget(1, 1000) == 1000
    assert resolve_budget(250, 1000) == 250
    assert resolve_budget(5000, 1000) == 1000
    assert resolve_budget(0.0001, 10) == 0
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
    selected = deita_select(mean_score(scores), vectors, np.ones(300, bool), 100, tau=0.9)
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


def test_deita_uses_an_external_score_and_skips_missing_ones():
    vectors = unit_vectors(50)
    quality = np.arange(50, dtype=np.float64)
    quality[49] = np.nan  # no DEITA score: never selected
    selected = deita_select(quality, vectors, np.ones(50, bool), 5, tau=1.0)
    assert np.flatnonzero(selected).tolist() == [44, 45, 46, 47, 48]


def reference_loop(scores, styles, sources, budget):
    """The reference's rounds (with the three documented fixes), as plain Python loops."""
    taken: list[int] = []
    caps = list(range(scores.shape[1]))
    while len(taken) < budget and caps:
        per_cap = max((budget - len(taken)) // len(caps), 1)
        dropped = []
        for c in caps:
            b = min(per_cap, budget - len(taken))
            order = sorted((r for r in range(len(scores)) if r not in taken and scores[r, c] > 0),
                           key=lambda r: (-scores[r, c], r))
            picks = reference_select_call(order, styles, sources, b) if order else []
            if not picks:
                dropped.append(c)
            taken += picks
            if len(taken) >= budget:
                break
        caps = [c for c in caps if c not in dropped]
    return sorted(taken)


@pytest.mark.parametrize("ratio", [0.05, 0.1, 0.3])
def test_whole_selection_matches_the_reference_loop_on_tie_free_multi_style_scores(ratio):
    rng = np.random.default_rng(11)
    n = 600
    scores = np.stack([rng.permutation(n) / n * 5 for _ in range(6)], axis=1).astype(np.float32)
    scores[rng.random((n, 6)) < 0.2] = 0
    names = ["a", "b", "c", "d", "e"]
    styles = [list(rng.choice(names, size=rng.integers(1, 4), replace=False)) for _ in range(n)]
    sources = [["x", "y", "z"][i] for i in rng.integers(0, 3, n)]
    budget = int(n * ratio)
    result = run(scores, styles, sources, budget)
    assert np.flatnonzero(result.selected).tolist() == reference_loop(scores, styles, sources, budget)


def test_deita_stage_names_the_score_it_used():
    import pyarrow as pa

    from pipelines.stages.select import SelectStage
    from schemas.contract import CAPABILITY_FIELDS

    n = 6
    conversations = [[{"from": "human", "value": f"Question number {i} about topic {i * 7}?"},
                      {"from": "gpt", "value": f"Answer {i}."}] for i in range(n)]
    table = pa.table({
        "sample_id": [f"s{i}" for i in range(n)],
        "capability_scores": [dict.fromkeys(CAPABILITY_FIELDS, float(i % 3)) for i in range(n)],
        "styles": [["yes/no"]] * n, "source": ["a"] * n, "duplicate_of": [None] * n,
        "deita_score": [1.0, 9.0, None, 3.0, 8.0, 2.0],
    })
    stage = SelectStage(method="deita", budget=2, deita_score_column="deita_score", deita_tau=1.0)
    stage.plan(table, pa.table({"conversations": conversations}))
    assert stage.chosen == {"s1", "s4"} and stage.method_label == "deita(score=deita_score)"
    assert stage.plan_counters["deita_score_missing"] == 1
    stand_in = SelectStage(method="deita", budget=2, deita_tau=1.0)
    stand_in.plan(table, pa.table({"conversations": conversations}))
    assert stand_in.method_label.startswith("deita(score=mean_capability_score, stand-in")
    assert stand_in.chosen == {"s2", "s5"}  # mean capability score 2.0 is the highest
