"""What a job or an export accepted but did not use, or read in a way the client should know about: one
`Warning` each, with a stable `code` a script can test and a `message` a person can read."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sluice.models.schemas import normalise_header

UNKNOWN_COLUMN = "unknown-column"  # a source column that feeds no field (column, suggestion)
OPTION_IGNORED = "option-ignored"  # an option or request field that was accepted but not used (option)
OBJECTS_CREATED_TRUNCATED = "objects-created-truncated"  # objectsCreated lists the first 1,000 keys only
KEYLESS_DUPLICATES = "keyless-duplicates"  # a keyless item type got the same file again (itemType, firstJobId)
FAILED_ROWS_THRESHOLD = "failed-rows-threshold"  # a dry run whose failed rows would have stopped the job
OPTIONS_FILE_LATE = "options-file-late"  # a drop-folder options file arrived after its data file was taken
ENCODING_GUESSED = "encoding-guessed"
NUL_REMOVED = "nul-removed"
NO_ROWS = "no-rows"  # a file read to its end without a data row (a header only): it completes with total 0
NOTE = "note"  # a warning stored as plain text before warnings had codes
MAX_WARNINGS = 100  # warnings kept on one job or file: a file of 1,000 unknown columns lists the first 100


def _absent(value: Any) -> bool:
    return value is None


class JobWarning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    column: str | None = Field(default=None, exclude_if=_absent, description="unknown-column: the source column")
    suggestion: str | None = Field(default=None, exclude_if=_absent,
                                   description="unknown-column: the field whose name is closest, if one is close")
    option: str | None = Field(default=None, exclude_if=_absent,
                               description="option-ignored: the option or request field")
    file: str | None = Field(default=None, exclude_if=_absent, description="jobs of several files: the file")
    itemType: str | None = Field(default=None, exclude_if=_absent,
                                 description="keyless-duplicates: the item type without a key")
    firstJobId: str | None = Field(default=None, exclude_if=_absent,
                                   description="keyless-duplicates: the job that imported the same file first")


def stored_warnings(value: Any) -> Any:
    """Warnings as stored: objects, or (jobs stored before warnings had codes) plain texts."""
    if isinstance(value, list):
        return [{"code": NOTE, "message": w} if isinstance(w, str) else w for w in value]
    return value


def closest_field(column: str, fields: list[str]) -> str | None:
    """The field whose name is closest to a source header (case and spaces aside), if one is close."""
    by_key = {normalise_header(f): f for f in fields}
    found = difflib.get_close_matches(normalise_header(column), list(by_key), n=1, cutoff=0.75)
    return by_key[found[0]] if found else None


def unknown_column(column: str, fields: list[str], file: str | None = None) -> JobWarning:
    suggestion = closest_field(column, fields)
    hint = f"; did you mean '{suggestion}'?" if suggestion else ""
    return JobWarning(code=UNKNOWN_COLUMN, column=column, suggestion=suggestion, file=file,
                   message=f"column '{column}' matches no field and was ignored{hint}")


def option_ignored(option: str, why: str) -> JobWarning:
    return JobWarning(code=OPTION_IGNORED, option=option, message=f"option '{option}' was ignored: {why}")


def no_rows(has_header: bool) -> JobWarning:
    what = "the file has a header row but no data rows" if has_header else "the file holds no rows"
    return JobWarning(code=NO_ROWS, message=f"{what}: there was nothing to import")
