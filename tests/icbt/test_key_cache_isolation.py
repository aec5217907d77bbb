"""Each test starts with an empty key cache (tests/conftest.py).

The first test leaves behind what a committed transaction leaves in a long-running process: the
active data key of a scope. Its database row is gone with the test's transaction; the second test
(same file, same process, in file order) must not encrypt under that key. This was an order-
dependent failure of the key-rotation test on SQLite, where clinic ids are reused.
"""

import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from icbt import crypto

SCOPE = 424242


def test_a_test_may_leave_an_active_key_in_the_process_cache():
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    crypto._cache.active[SCOPE] = ("gone-with-its-transaction", aead, time.monotonic() + 3600)
    assert SCOPE in crypto._cache.active


def test_the_next_test_starts_without_it():
    assert SCOPE not in crypto._cache.active
    assert not crypto._cache.data_keys
