"""CSV for spreadsheets: cells a spreadsheet will not run as formulas. Every CSV export (insights'
figures, the audit log) writes its cells through `cell`."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """Text starting like a formula gets a leading apostrophe (numbers stay numbers; an empty
    figure stays empty)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
