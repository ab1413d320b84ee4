"""Is `segcap select --method mmssr` the reference's selection? A side-by-side check.

`reference_select` below is a standalone port of the selection loop of lyumengyao/mmssr
(llava/select/mmssr.py `select` + the `__main__` rounds), written from ../shared/REFERENCE.md
section 5 in the reference's own pandas idiom, with no project imports. `released=True` keeps the
three defects' tie/ordering behaviour (pandas' unstable quicksort decides equal scores and
equal-sized bins; capabilities reordered through a `set` after each round);
`released=False` applies the three documented fixes (stable ties by sample order, equal bins by
key, capability order kept).

Ours runs through `SelectStage.plan` (what `segcap select --method mmssr` runs, minus the file
I/O) on contract `instructions` tables. Prints, per ratio: Jaccard of the two selections, the
per-capability counts and the style x source composition of both, and the total-variation
distance between the compositions; then the time to select from 1M samples.

    .venv/bin/python benchmarks/bench_mmssr_fidelity.py [--rows 20000] [--big 1000000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa

STYLES = ["multi-choice", "coordinate", "yes/no", "word/short-phrase", "short description",
          "detailed description", "comparison", "chain-of-thought (step-by-step)", "specified style"]
SOURCES = ["coco", "textvqa", "chartqa", "sharegpt4v", "ai2d", "docvqa", "scienceqa", "ocrvqa"]
CAPS = [f"cap{j:02d}" for j in range(14)]


# ---- the reference, ported (no project imports) -----------------------------------------------
def _ref_bins(df_sorted: pd.DataFrame, released: bool) -> pd.Series:
    melted = df_sorted[[c for c in df_sorted.columns if c.startswith("sty_")]].melt(
        ignore_index=False, var_name="style_idx", value_name="style").dropna(subset=["style"]).reset_index()
    grouped = melted.groupby("style", group_keys=True)["idx"].apply(list)
    kind = "quicksort" if released else "stable"
    return grouped.sort_values(key=lambda x: x.apply(len), ascending=True, kind=kind)


def _ref_select(df_sorted: pd.DataFrame, num_select: int, released: bool) -> set:
    sorted_grouped = _ref_bins(df_sorted, released)
    n_bin = len(sorted_grouped)
    if n_bin == 0:  # the reference asserts here (defect 1)
        return set()
    num_select_bin = max(num_select // n_bin, 1)
    selected, debt = set(), 0
    for _, indices in sorted_grouped.items():
        if len(selected) >= num_select:
            break
        filtered = [i for i in indices if i not in selected]
        current = min(num_select_bin + debt, len(filtered))
        debt = max(num_select_bin + debt - len(filtered), 0)
        selected.update(filtered[:current])
    return selected


def reference_select(ratings: pd.DataFrame, caps: list[str], selected_len: int, thr: float = 0,
                     released: bool = False, picked_by: dict | None = None) -> set:
    """ratings: index `idx`, one column per capability, sty_1..sty_k = "style+source" or NaN.
    picked_by (optional) receives idx -> the capability whose turn selected it."""
    valid = ratings.copy()
    valid["_tie"] = np.arange(len(valid))
    selected_idx: set = set()
    caps = list(caps)
    while len(selected_idx) < selected_len and caps:  # `and caps`: defect 1 (no endless loop)
        budget = max(int(selected_len - len(selected_idx)) // len(caps), 1)
        drop = []
        for cap in caps:
            if released:
                sorted_ratings = valid.sort_values(by=cap, ascending=False)
            else:
                sorted_ratings = valid.sort_values(by=[cap, "_tie"], ascending=[False, True], kind="stable")
            budget = min(budget, selected_len - len(selected_idx))
            new = _ref_select(sorted_ratings[sorted_ratings[cap] > thr], budget, released)
            if not new:
                drop.append(cap)
            else:
                valid = valid.drop(list(new))
                selected_idx |= new
                if picked_by is not None:
                    picked_by.update(dict.fromkeys(new, cap))
            if len(selected_idx) >= selected_len:
                break
        caps = list(set(caps) - set(drop)) if released else [c for c in caps if c not in drop]
    return selected_idx


# ---- synthetic pools --------------------------------------------------------------------------
def synthetic(n: int, integer: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    if integer:
        scores = rng.integers(0, 6, size=(n, 14)).astype(np.float32)
    else:  # tie-free: distinct float32 values per capability
        scores = np.stack([rng.permutation(n).astype(np.float32) / n * 5 + 1e-3 for _ in range(14)], 1)
        scores[rng.random((n, 14)) < 0.15] = 0.0  # some rows are no candidate for a capability
    counts = rng.integers(1, 4, n)
    styles = [list(rng.choice(STYLES, size=k, replace=False)) for k in counts]
    sources = [SOURCES[i] for i in rng.integers(0, len(SOURCES), n)]
    return scores, styles, sources


def large_pool(n: int, seed: int = 0):
    """Integer scores 0-5 (2% unparseable), 1-3 styles per row, 8 sources; built in numpy/Arrow
    (a Python loop per row would take longer than the selection)."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(n, 14)).astype(np.float32)
    scores[rng.random((n, 14)) < 0.02] = np.nan
    counts = rng.integers(1, 4, n)
    flat = np.asarray(STYLES, dtype=object)[rng.integers(0, len(STYLES), counts.sum())]
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int32)
    styles = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat.tolist(), pa.string()))
    sources = pa.array(np.asarray(SOURCES, dtype=object)[rng.integers(0, len(SOURCES), n)].tolist())
    return scores, styles, sources


def ratings_frame(scores, styles, sources) -> pd.DataFrame:
    frame = pd.DataFrame(scores.astype(np.float64), columns=CAPS)
    parsed = []
    for row_styles, source in zip(styles, sources, strict=True):  # the reference's parse_sty
        keys: list[str] = []
        for style in row_styles:
            if f"{style}+{source}" not in keys:
                keys.append(f"{style}+{source}")
        parsed.append(keys)
    for k in range(max(len(p) for p in parsed)):
        frame[f"sty_{k + 1}"] = [p[k] if k < len(p) else np.nan for p in parsed]
    frame.index.name = "idx"
    return frame


def contract_table(scores, styles, sources) -> pa.Table:
    from schemas.contract import CAPABILITY_FIELDS, arrow_schema

    n = len(styles)
    columns = {
        "sample_id": [f"s{i:08d}" for i in range(n)],  # ids in row order: our tie rule = row order
        "capability_scores": [dict(zip(CAPABILITY_FIELDS, map(float, row), strict=True)) for row in scores],
        "styles": styles, "source": sources, "duplicate_of": [None] * n,
    }
    schema = arrow_schema("instructions")
    return pa.table({k: pa.array(v, type=schema.field(k).type) for k, v in columns.items()})


def ours(table: pa.Table, ratio: float) -> set:
    from pipelines.stages.select import SelectStage

    stage = SelectStage(budget=ratio, method="mmssr")
    stage.plan(table)
    return {int(s[1:]) for s in stage.chosen}


def ours_picked_by(scores, styles, sources, budget: int) -> list[int]:
    """Per capability, how many samples its turns selected (ours, same inputs as the stage)."""
    from annotators.selection.mmssr import mmssr_select, style_bins

    result = mmssr_select(scores, style_bins(styles, sources), budget)
    return np.bincount(result.capability_of[result.selected], minlength=14).tolist()


# ---- reports ----------------------------------------------------------------------------------
def composition(chosen: set, styles, sources) -> pd.Series:
    pairs = [(style, sources[i]) for i in chosen for style in styles[i]]
    counts = pd.Series(pairs, dtype=object).value_counts()
    return counts / counts.sum()


def total_variation(a: pd.Series, b: pd.Series) -> float:
    joined = pd.concat([a, b], axis=1).fillna(0.0)
    return 0.5 * float((joined.iloc[:, 0] - joined.iloc[:, 1]).abs().sum())


def jaccard(a: set, b: set) -> float:
    return len(a & b) / max(len(a | b), 1)


def compare(label: str, a: set, b: set, scores, styles, sources, verbose: bool,
            picks: tuple[list, list] | None = None) -> dict:
    ca, cb = composition(a, styles, sources), composition(b, styles, sources)
    row = {"case": label, "n_ref": len(a), "n_ours": len(b), "jaccard": round(jaccard(a, b), 4),
           "composition_tv": round(total_variation(ca, cb), 4)}
    print(row)
    if verbose and picks:
        print("  selected per capability turn, reference:", picks[0])
        print("  selected per capability turn, ours:     ", picks[1])
    if verbose:
        top = pd.concat([ca.rename("reference"), cb.rename("ours")], axis=1).fillna(0.0)
        top.index = [f"{s} | {src}" for s, src in top.index]
        print("  style x source composition (share of style entries), 12 largest:")
        print(top.sort_values("reference", ascending=False).head(12).round(4).to_string())
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--ratios", default="0.05,0.1,0.3")
    args = parser.parse_args()
    ratios = [float(r) for r in args.ratios.split(",")]

    print(f"== tie-free float scores, {args.rows} rows: the fixed reference port vs ours (must be 1.0)")
    scores, styles, sources = synthetic(args.rows, integer=False)
    frame, table = ratings_frame(scores, styles, sources), contract_table(scores, styles, sources)
    failures = 0
    for ratio in ratios:
        budget = int(args.rows * ratio)
        picked: dict = {}
        ref, mine = reference_select(frame, CAPS, budget, picked_by=picked), ours(table, ratio)
        ref_picks = [sum(1 for c in picked.values() if c == cap) for cap in CAPS]
        row = compare(f"tie-free {ratio:.0%}", ref, mine, scores, styles, sources, verbose=True,
                      picks=(ref_picks, ours_picked_by(scores, styles, sources, budget)))
        failures += row["jaccard"] != 1.0
        released = reference_select(frame, CAPS, budget, released=True)
        compare(f"tie-free {ratio:.0%}, released port (set order)", released, mine, scores, styles,
                sources, verbose=False)

    print(f"\n== integer scores 0-5 (ties), {args.rows} rows")
    scores, styles, sources = synthetic(args.rows, integer=True, seed=1)
    frame, table = ratings_frame(scores, styles, sources), contract_table(scores, styles, sources)
    for ratio in ratios:
        budget = int(args.rows * ratio)
        mine = ours(table, ratio)
        fixed = reference_select(frame, CAPS, budget)
        row = compare(f"integer {ratio:.0%}, fixed port", fixed, mine, scores, styles, sources, False)
        failures += row["jaccard"] != 1.0
        released = reference_select(frame, CAPS, budget, released=True)
        compare(f"integer {ratio:.0%}, released port (unstable ties, set order)", released, mine,
                scores, styles, sources, verbose=False)
        # noise floor: ours with the rows in another order (so another tie order)
        perm = np.random.default_rng(7).permutation(args.rows)
        shuffled = ours(contract_table(scores[perm], [styles[i] for i in perm], [sources[i] for i in perm]), ratio)
        compare(f"integer {ratio:.0%}, ours under another tie order (noise floor)", mine,
                {int(perm[i]) for i in shuffled}, scores, styles, sources, verbose=False)

    print(f"\n== speed: ours on {args.big} rows (integer scores, 1-3 styles, 8 sources)")
    from annotators.selection.mmssr import mmssr_select, style_bins

    scores, styles, sources = large_pool(args.big, seed=2)
    for ratio in ratios:
        tracemalloc.start()
        started = time.perf_counter()
        entries = style_bins(styles, sources)
        binned = time.perf_counter() - started
        result = mmssr_select(scores, entries, int(args.big * ratio))
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  {ratio:.0%}: {int(result.selected.sum())} selected in {seconds:.2f} s "
              f"(bins {binned:.2f} s, {result.rounds} rounds), peak {peak / 2**20:.0f} MiB")
    if failures:
        raise SystemExit(f"{failures} comparison(s) with Jaccard != 1.0")


if __name__ == "__main__":
    main()
