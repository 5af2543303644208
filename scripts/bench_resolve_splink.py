#!/usr/bin/env python3
"""Benchmark peer for identity resolution: a naive phone baseline and Splink 5 (DuckDB).

Usage:
    python scripts/bench_resolve_splink.py WAREHOUSE_DIR TRUTH_DIR OUT_JSON

Run it in a venv holding `splink==5.0.0` (it brings duckdb and pyarrow; pandas is not
needed). Both methods read the same input: `calls` (call_id, district, category) joined
to `calls_pii` on call_id, straight from the hive-partitioned Parquet.

Baseline
    One entity per normalised phone (`phone_canonical`); a call with no phone is a
    singleton. It loses people who call from several phones and merges everyone behind
    a shared phone (household landlines, shop phones).

Splink configuration (dedupe_only, unique id = call_id) and why
    Derived columns: `name_full` and `pinyin_full` are the name and its toneless pinyin
    with honorific-only names (王先生 / 李女士) set to NULL: "surname + form of address"
    names nobody in particular, so it must neither score as a name match nor block.

    Comparisons (Fellegi-Sunter; u from random sampling, m from EM):
      phone_canonical  NULL / exact / else. No term-frequency adjustment: the most
                       frequent phones here are heavy repeat callers, not shared lines,
                       and TF would discount exactly their strongest evidence.
      id_canonical     NULL / exact / disagree
      name             NULL (missing or honorific-only) / exact name_normalised (TF
                       adjusted: common names are weak evidence) / exact pinyin
                       (homophone typos: 王建国 ~ 汪建国) / Jaro-Winkler >= 0.9 /
                       Jaro-Winkler >= 0.8 (a 3-character name differing in its last
                       character; DuckDB's jaro_winkler works on characters) / else
      surname          NULL also when both calls carry a full name (the surname is then
                       inside `name`; counting it twice broke conditional independence
                       and, at 1M calls, let same-common-name different-phone pairs of
                       different people pass 0.95) / exact (TF adjusted: 王 and 李 are
                       common) / else; the name evidence an honorific-only call carries
      birth            NULL / same birth_date / disagree (birth date comes from the
                       resident id, so it mostly restates the id; a same-birth-year level
                       only ever sees non-matches, EM drove its m to ~1e-80)
      female           NULL / exact / disagree (from the id or the honorific)
      district         NULL / exact / else (where the call was about: weak evidence)
      category         exact / else (habitual callers phone about one kind of problem)
    "disagree" levels (id, birth, female) have m fixed at 1e-3: those attributes never
    differ between one person's calls in this data, EM drives their m to exactly 0.0,
    and Splink 5 then stops with "m_probability ... below the minimum allowed value of
    1e-300" instead of clamping. A fixed floor keeps them strong but finite evidence.

    Blocking rules for prediction (OR-ed; Splink removes duplicate pairs):
      phone_canonical; id_canonical; pinyin_full (non-honorific names only).
    Each is an equi-join on a near-identifier, so pairs grow with the number of calls
    per person, not with N^2. Rejected after measuring at 20k calls (true/false pairs,
    extrapolated to 1M by x50 for true and x2500 for chance pairs):
      surname + district: 13k true / 516k false -> ~1.3e9 pairs at 1M, and the pairs it
        alone adds (different phones, no two full names, no id) cannot reach 0.95:
        surname (TF; ~10 bits at most, for a rare one) + sex + district + category stay
        below the 17-22 bits needed (prior of -13 bits at 20k, -17 at 1M, plus 4.25);
      surname + birth year: adds no true pair beyond id_canonical (birth comes from the id).

    Training:
      probability_two_random_records_match from deterministic rules (same id; same phone
      and same full name) with recall 0.4: same-phone pairs dominate the true pairs but
      only those where both calls gave a full name (about half the calls do) pass;
      u by random sampling of 1e7 pairs (seed 1). Caveat: with heavy repeat callers a
      random pair is not always a non-match, so u(phone exact) comes out as the rate of
      same-person pairs, not of chance collisions (measured: 2.6e-4 against 1.7e-6 at
      20k calls, 9.6e-6 against 5.5e-9 at 1M): same-phone pairs score ~7-11 bits lower
      than they deserve, which is what costs recall at 0.95 (same phone, honorific-only
      names, different category). Letting EM re-estimate u instead
      (fix_u_probabilities=False) stops with "u_probability value 0.0 is below the
      minimum allowed value" on this data;
      m by EM on two blockings: same phone (trains name, id, surname, birth, sex,
      district, category) and same full-name pinyin + surname (trains phone and id),
      each capped at 5e6 pairs (Splink samples records when a rule would yield more).

    Prediction and clustering: `predict` scores the blocked pairs, keeping those with
    match probability >= 0.5, and `cluster_pairwise_predictions_at_threshold` takes
    connected components at match probability 0.95 (match weight ~ +4.25), the customary
    "strong match" cut: connected components chain every false edge, so the cut is set
    high a priori, not tuned against the truth. Untimed, the same predictions are also
    clustered at 0.5 / 0.8 / 0.9 / 0.99 and reported as `threshold_sweep`.

Metrics are pairwise, counted from cluster sizes (never by listing pairs), on the calls
present both in the warehouse and in TRUTH_DIR/call_person.csv (truth rows quarantined
at ingest are left out): TP = sum over (cluster, person) cells of n(n-1)/2, predicted
pairs = sum over clusters, true pairs = sum over persons. Wall time of each method runs
from reading the Parquet to having a cluster id for every call.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time

import duckdb

THRESHOLD = 0.95  # match probability for clustering (match weight ~ +4.25)
SWEEP = (0.5, 0.8, 0.9, 0.95, 0.99)  # reported besides, from the same model, untimed
U_MAX_PAIRS = 1e7
EM_MAX_PAIRS = 5e6
SEED = 1
DISAGREE_M = 1e-3
DETERMINISTIC_RECALL = 0.4
MEMORY_LIMIT = os.environ.get("BENCH_DUCKDB_MEMORY", "6GB")


def connect(tmp: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def input_sql(warehouse: str) -> str:
    calls = os.path.join(warehouse, "calls", "*", "*.parquet")
    pii = os.path.join(warehouse, "calls_pii", "*", "*.parquet")
    return f"""
        SELECT
            c.call_id,
            c.district,
            c.category,
            p.phone_canonical,
            p.id_canonical,
            p.surname,
            CASE WHEN p.honorific_only THEN NULL ELSE p.name_normalised END AS name_full,
            CASE WHEN p.honorific_only THEN NULL ELSE p.name_pinyin END AS pinyin_full,
            p.birth_date,
            p.female
        FROM read_parquet('{calls}', hive_partitioning = true) AS c
        LEFT JOIN read_parquet('{pii}', hive_partitioning = true) AS p USING (call_id)
    """


def run_baseline(warehouse: str, tmp: str) -> tuple[duckdb.DuckDBPyConnection, float]:
    """Clusters into table `clusters(call_id, cluster_id)` of the returned connection."""
    start = time.perf_counter()
    con = connect(tmp)
    pii = os.path.join(warehouse, "calls_pii", "*", "*.parquet")
    calls = os.path.join(warehouse, "calls", "*", "*.parquet")
    con.execute(f"""
        CREATE TABLE clusters AS
        SELECT c.call_id, coalesce('p:' || p.phone_canonical, 'c:' || c.call_id) AS cluster_id
        FROM read_parquet('{calls}', hive_partitioning = true) AS c
        LEFT JOIN read_parquet('{pii}', hive_partitioning = true) AS p USING (call_id)
    """)
    return con, time.perf_counter() - start


def splink_settings():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def disagree():
        # A person's id, sex and birth date never disagree between their own calls, so EM
        # drives m of this level to exactly 0.0, which Splink 5 rejects (ValueError: m below
        # 1e-300) instead of clamping. Fix it at a small floor: strong, finite evidence.
        return cll.ElseLevel().configure(m_probability=DISAGREE_M, fix_m_probability=True)

    def exact_or_disagree(col):
        return cl.CustomComparison(
            output_column_name=col,
            comparison_levels=[cll.NullLevel(col), cll.ExactMatchLevel(col), disagree()],
        )

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_description="full name (honorific-only names count as missing)",
        comparison_levels=[
            cll.NullLevel("name_full"),
            cll.ExactMatchLevel("name_full", term_frequency_adjustments=True),
            cll.ExactMatchLevel("pinyin_full").configure(label_for_charts="Same pinyin"),
            cll.JaroWinklerLevel("name_full", 0.9),
            cll.JaroWinklerLevel("name_full", 0.8),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="birth",
        comparison_description="birth date from the resident id",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            disagree(),
        ],
    )
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_description="surname, only where the name comparison lacks a full name",
        comparison_levels=[
            # Two full names already compare the surname inside `name`: counting it again
            # would break Fellegi-Sunter's conditional independence (measured at 1M calls:
            # same common name + different phone then passed 0.95 for different people).
            cll.CustomLevel(
                "name_full_l IS NOT NULL AND name_full_r IS NOT NULL",
                label_for_charts="Both full names (surname counted in name)",
            ).configure(is_null_level=True),
            cll.NullLevel("surname"),
            cll.ExactMatchLevel("surname", term_frequency_adjustments=True),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="call_id",
        comparisons=[
            cl.ExactMatch("phone_canonical"),
            exact_or_disagree("id_canonical"),
            name,
            surname,
            birth,
            exact_or_disagree("female"),
            cl.ExactMatch("district"),
            cl.ExactMatch("category"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("phone_canonical"),
            block_on("id_canonical"),
            block_on("pinyin_full"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def run_splink(warehouse: str, tmp: str):
    """Clusters at THRESHOLD into table `clusters(call_id, cluster_id)` of the returned
    connection; also returns the linker and predictions for the (untimed) threshold sweep."""
    from splink import DuckDBAPI, Linker, block_on

    start = time.perf_counter()
    con = connect(tmp)
    con.execute(f"CREATE TABLE calls_in AS {input_sql(warehouse)}")
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("calls_in"), splink_settings(), log_level=logging.INFO)
    phases = {"load": time.perf_counter() - start}

    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_canonical"), block_on("phone_canonical", "name_full")], recall=DETERMINISTIC_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("phone_canonical"), max_pairs=EM_MAX_PAIRS
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("pinyin_full", "surname"), max_pairs=EM_MAX_PAIRS
    )
    phases["train"] = time.perf_counter() - start - sum(phases.values())

    # Score at the lowest threshold of the sweep so the sweep can reuse the predictions.
    predictions = linker.inference.predict(threshold_match_probability=min(SWEEP))
    phases["predict"] = time.perf_counter() - start - sum(phases.values())
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    con.execute(f"CREATE TABLE clusters AS SELECT call_id, cluster_id FROM {clustered.physical_name}")
    seconds = time.perf_counter() - start
    phases["cluster"] = seconds - sum(phases.values())
    clustered.drop_table_from_database_and_remove_from_cache()
    linker.phase_seconds = {k: round(v, 3) for k, v in phases.items()}
    return con, seconds, linker, predictions


def sweep(con, linker, predictions, truth_csv: str) -> dict:
    """F1 at other thresholds, from the same model and predictions (not timed)."""
    out = {}
    for threshold in SWEEP:
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        )
        con.execute(f"CREATE OR REPLACE TABLE clusters AS SELECT call_id, cluster_id FROM {clustered.physical_name}")
        clustered.drop_table_from_database_and_remove_from_cache()
        m = metrics(con, truth_csv)
        out[str(threshold)] = {k: m[k] for k in ("precision", "recall", "f1", "clusters")}
    return out


def metrics(con: duckdb.DuckDBPyConnection, truth_csv: str) -> dict:
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE evaluated AS
        SELECT k.cluster_id, t.person_id
        FROM clusters AS k
        JOIN read_csv('{truth_csv}', header = true, columns = {{'call_id': 'VARCHAR', 'person_id': 'VARCHAR'}}) AS t
          ON t.call_id = CAST(k.call_id AS VARCHAR)
    """)
    pairs = "sum(n * (n - 1) / 2)::HUGEINT"
    tp, = con.execute(f"SELECT {pairs} FROM (SELECT count(*) AS n FROM evaluated GROUP BY cluster_id, person_id)").fetchall()[0]
    pred, = con.execute(f"SELECT {pairs} FROM (SELECT count(*) AS n FROM evaluated GROUP BY cluster_id)").fetchall()[0]
    true, = con.execute(f"SELECT {pairs} FROM (SELECT count(*) AS n FROM evaluated GROUP BY person_id)").fetchall()[0]
    evaluated, = con.execute("SELECT count(*) FROM evaluated").fetchall()[0]
    clusters, = con.execute("SELECT count(DISTINCT cluster_id) FROM clusters").fetchall()[0]
    tp, pred, true = int(tp or 0), int(pred or 0), int(true or 0)
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
        "clusters": int(clusters),
        "evaluated_calls": int(evaluated),
        "true_pairs": true,
        "predicted_pairs": pred,
        "true_positive_pairs": tp,
    }


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1] if __doc__ else "usage: WAREHOUSE_DIR TRUTH_DIR OUT_JSON")
    warehouse, truth_dir, out_json = sys.argv[1:]
    truth_csv = os.path.join(truth_dir, "call_person.csv")
    import splink

    with tempfile.TemporaryDirectory(prefix="bench-resolve-") as tmp:
        con, seconds = run_baseline(warehouse, tmp)
        calls, = con.execute("SELECT count(*) FROM clusters").fetchall()[0]
        baseline = {**metrics(con, truth_csv), "seconds": round(seconds, 3)}
        con.close()

        con, seconds, linker, predictions = run_splink(warehouse, tmp)
        result = {**metrics(con, truth_csv), "seconds": round(seconds, 3)}
        scored_pairs, = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0]
        result["scored_pairs_above_min_threshold"] = int(scored_pairs)
        result["phase_seconds"] = linker.phase_seconds
        result["threshold_sweep"] = sweep(con, linker, predictions, truth_csv)
        con.close()

    out = {
        "calls": int(calls),
        "baseline": baseline,
        "splink": {**result, "version": splink.__version__, "threshold": THRESHOLD},
    }
    with open(out_json, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"{calls} calls ({baseline['evaluated_calls']} with truth)")
    for label, r in (("baseline (phone)", baseline), (f"splink {splink.__version__}", result)):
        print(
            f"  {label:<17} precision {r['precision']:.4f}  recall {r['recall']:.4f}  "
            f"F1 {r['f1']:.4f}  {r['clusters']} clusters  {r['seconds']:.1f} s"
        )
    print(f"  splink phases (s): {result['phase_seconds']}")
    print("  splink at other thresholds: " + ", ".join(
        f"{t}: P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}" for t, r in result["threshold_sweep"].items()
    ))


if __name__ == "__main__":
    main()
