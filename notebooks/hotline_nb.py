"""What the notebooks share: the warehouse's analyst tables in DataFusion (the 55 line, the same
engine as hotline), the named queries of ../queries bound as hotline binds them, and the hotline
binary asked for the same figures so that each notebook can check it reached them.

Set HOTLINE_WAREHOUSE (default: ../hotline-demo/warehouse, what `cargo run --release -- demo`
makes) and HOTLINE_BIN (default: `hotline` on PATH, else ../target/release/hotline).
"""
import io
import os
import pathlib
import re
import shutil
import subprocess

import datafusion
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = pathlib.Path(__file__).resolve().parent.parent
WAREHOUSE = pathlib.Path(os.environ.get("HOTLINE_WAREHOUSE", ROOT / "hotline-demo" / "warehouse")).resolve()
OUTPUTS = pathlib.Path(os.environ.get("HOTLINE_NOTEBOOK_DATA", WAREHOUSE.parent / "notebook-data")).resolve()
# Tables only the investigator role may read; analysts' notebooks never open them.
RESTRICTED = {"calls_pii", "calls_pii_history", "quarantine_pii"}


def hotline_bin() -> str:
    if os.environ.get("HOTLINE_BIN"):
        return os.environ["HOTLINE_BIN"]
    return shutil.which("hotline") or str(ROOT / "target" / "release" / "hotline")


def snapshot_dir() -> pathlib.Path:
    """The committed snapshot `current` points to, resolved once so every table comes from it."""
    return (WAREHOUSE / "current").resolve()


def context() -> datafusion.SessionContext:
    """A DataFusion session over every analyst table of the current snapshot, plus `categories`."""
    ctx = datafusion.SessionContext()
    for table in sorted(snapshot_dir().iterdir()):
        if not table.is_dir() or table.name in RESTRICTED or not any(table.rglob("*.parquet")):
            continue
        if any(p.name.startswith("month=") for p in table.iterdir()):
            ctx.register_parquet(table.name, f"{table}/", table_partition_cols=[("month", pa.string())])
        else:
            ctx.register_parquet(table.name, f"{table}/")
    types = {"police_matter": pa.bool_()}
    taxonomy = pacsv.read_csv(ROOT / "data" / "taxonomy.csv", convert_options=pacsv.ConvertOptions(column_types=types))
    ctx.register_record_batches("categories", [taxonomy.to_batches()])
    return ctx


def named_sql(name: str, **params: str) -> str:
    """The SQL of queries/NAME.sql with its parameters bound as hotline binds them (string
    literals, quotes doubled; defaults from the header)."""
    text = (ROOT / "queries" / f"{name}.sql").read_text()
    values = {m.group(1): m.group(2).strip() for m in re.finditer(r"^-- param: (\w+) =(.*?)\|", text, re.M)}
    unknown = set(params) - set(values)
    if unknown:
        raise ValueError(f"{name} has no parameter {sorted(unknown)}")
    values.update(params)
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", "'" + str(value).replace("'", "''") + "'")
    return text.strip().rstrip(";")


def query(ctx: datafusion.SessionContext, name: str, **params: str) -> pd.DataFrame:
    """A named query run by DataFusion in this notebook."""
    return ctx.sql(named_sql(name, **params)).to_pandas()


def hotline(*args: str) -> str:
    """Runs the hotline binary on the same warehouse and returns what it printed."""
    done = subprocess.run([hotline_bin(), *args, "--warehouse", str(WAREHOUSE)], check=True, capture_output=True,
                          text=True)
    return done.stdout


def hotline_query(name: str, **params: str) -> pd.DataFrame:
    """The same named query, run by hotline, as a DataFrame."""
    args = ["query", "run", name, "--format", "csv"]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    return pd.read_csv(io.StringIO(hotline(*args)))


def hotline_sql(sql: str) -> pd.DataFrame:
    """A statement run by `hotline sql`, as a DataFrame."""
    return pd.read_csv(io.StringIO(hotline("sql", "--format", "csv", sql)))


def chinese_fonts() -> None:
    """Matplotlib with a font that has Chinese glyphs (Debian's fonts-noto-cjk) before DejaVu."""
    import matplotlib
    matplotlib.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei",
                                              "Source Han Sans SC", "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
