"""Event stores for tests that build their own: the tables are created by one explicit step
(as the composition root's ``prepare_storage`` does), never by a constructor."""

from __future__ import annotations


def prepared(store):
    """``store`` with its tables created."""
    store.create_tables()
    return store
