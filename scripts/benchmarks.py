"""BENCHMARKS.md's sections, for the benchmark scripts that write one: replaces the section whose heading starts with a prefix."""
import pathlib, re

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def replace_section(heading_prefix: str, section: str) -> None:
    """Drops every section headed `## {heading_prefix}…` and appends `section` at the end."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n\n"
    pattern = "## " + re.escape(heading_prefix) + r".*?(?=\n## |\Z)"
    text = re.sub(pattern, "", text, flags=re.S).rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text)
