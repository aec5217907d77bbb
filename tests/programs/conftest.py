import pytest

from tests.programs.helpers import copy_fixture, load_tiny


@pytest.fixture
def content_root(tmp_path):
    """A writable copy of the tiny fixture program."""
    return copy_fixture(tmp_path)


@pytest.fixture
def tiny(db):
    """The tiny fixture program, loaded; its English version."""
    return load_tiny()
