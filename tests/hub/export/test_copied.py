"""COPY's CSV text becomes record batches: rows cut at their end, NULL apart from the empty text, t and f."""

from __future__ import annotations

import pyarrow as pa

from hub.export.columns import Column
from hub.export.copied import parse, row_end

COLUMNS = (
    Column("name", pa.string(), "A text."),
    Column("score", pa.float64(), "A score.", rounded=True),
    Column("calibrated", pa.bool_(), "A flag."),
    Column("rank", pa.int32(), "A rank."),
)


def test_a_chunk_is_cut_after_its_last_whole_row_not_at_a_newline_inside_quotes() -> None:
    """A newline inside a quoted text does not end a row; one outside quotes does."""
    text = b'a,1.5,t,1\n"two\nlines",2,f,2\n"open\n'
    assert row_end(text) == len(b'a,1.5,t,1\n"two\nlines",2,f,2\n')
    assert row_end(b'"only\npart') == 0
    assert row_end(b'"say ""hi""",1,t,1\n') == len(b'"say ""hi""",1,t,1\n')


def test_null_stays_null_the_empty_text_stays_empty_and_scores_are_rounded_as_the_api_shows() -> None:
    """COPY writes NULL unquoted and empty, the empty text as "", booleans as t and f."""
    batch = parse(b'"",2.675,t,\n,,f,3\n"x\ny",80.004,,1\n', COLUMNS)
    assert batch.schema.names == ["name", "score", "calibrated", "rank"]
    assert batch.column(0).to_pylist() == ["", None, "x\ny"]
    assert batch.column(1).to_pylist() == [2.68, None, 80.0]
    assert batch.column(2).to_pylist() == [True, False, None]
    assert batch.column(3).to_pylist() == [None, 3, 1]
