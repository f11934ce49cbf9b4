"""An analyst's id has one spelling: the insider review found that ids differing only in the unused bits
of their last base64 character ("...4A", "...4B", "...4P") named the same employee."""

from __future__ import annotations

import base64

from hub.pseudonyms import Pseudonyms

KEY = b"k" * 32
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_only_the_canonical_spelling_of_an_id_names_its_row() -> None:
    pseudonyms = Pseudonyms(KEY)
    for key in (1, 2, 120, 10**9):
        token = pseudonyms.encode("employee", key)
        assert pseudonyms.decode("employee", token) == key
        # The last character carries 2 bits of the block and 4 unused ones: the other 15 characters with the
        # same 2 bits decode to the same bytes, and must be refused.
        same_bytes = [
            token[:-1] + other
            for other in ALPHABET
            if other != token[-1]
            and base64.urlsafe_b64decode(token[:-1] + other + "==") == base64.urlsafe_b64decode(token + "==")
        ]
        assert len(same_bytes) == 15
        assert [pseudonyms.decode("employee", spelling) for spelling in same_bytes] == [None] * 15
