"""The one rule for a cell of any CSV or XLSX the server writes: text people typed never becomes a formula.

CSV has no cell types, so text that a spreadsheet would run gets an apostrophe in front
(`export_cell`). XLSX has them: such text is written exactly as typed, as a string cell
marked `quotePrefix` (`exports._typed_text_cell`), which no spreadsheet runs.
"""

from __future__ import annotations

# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_cell(value):
    """A value as every CSV writer writes it.

    Text starting with = + - @ tab or CR gets a leading apostrophe, as OWASP recommends:
    LibreOffice and Excel then keep it as text, and people still read exactly what was
    typed after the apostrophe. Numbers, dates and empty cells pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unguard(value: str) -> str:
    """Text read back from a file this server wrote: the apostrophe `export_cell` added is dropped."""
    if value.startswith("'") and value[1:2] and value[1:2] in FORMULA_START:
        return value[1:]
    return value
