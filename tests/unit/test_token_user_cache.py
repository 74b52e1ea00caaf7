"""The token -> user cache of the API (:class:`api.auth.TokenUserCache`) and token expiry."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from api.auth import TOKEN_SALT, CurrentUser, TokenService, TokenUserCache
from api.errors import ApiError

ALICE = CurrentUser(1, 10, "alice@example.com", ("admin",))
BOB = CurrentUser(2, 10, "bob@example.com", ())


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_ttl_seconds() -> None:
    clock = FakeClock()
    cache = TokenUserCache(ttl_s=2.0, clock=clock)
    cache.put("t", ALICE, token_expires_in_s=3600)
    clock.now = 1.9
    assert cache.get("t") == ALICE
    clock.now = 2.0
    assert cache.get("t") is None


def test_an_entry_never_outlives_its_token() -> None:
    clock = FakeClock()
    cache = TokenUserCache(ttl_s=2.0, clock=clock)
    cache.put("t", ALICE, token_expires_in_s=0.5)
    clock.now = 0.5
    assert cache.get("t") is None
    cache.put("expired", ALICE, token_expires_in_s=0)
    assert cache.get("expired") is None


def test_the_cache_is_bounded_and_drops_the_oldest_entry() -> None:
    cache = TokenUserCache(ttl_s=60, max_entries=2, clock=FakeClock())
    cache.put("a", ALICE, 3600)
    cache.put("b", BOB, 3600)
    cache.put("c", BOB, 3600)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, BOB, BOB)


def test_ttl_zero_turns_the_cache_off() -> None:
    cache = TokenUserCache(ttl_s=0, clock=FakeClock())
    cache.put("t", ALICE, 3600)
    assert cache.get("t") is None


def _token_issued_ago(service_secret: str, user_id: int, age_s: int) -> str:
    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    return URLSafeTimedSerializer(service_secret, salt=TOKEN_SALT, signer=PastSigner).dumps({"user_id": user_id})


def test_verify_gives_the_user_and_the_seconds_left_until_expiry() -> None:
    service = TokenService("secret", max_age_s=600)
    user_id, expires_in_s = service.verify(_token_issued_ago("secret", 7, 100))
    assert user_id == 7
    assert 490 <= expires_in_s <= 500  # 600 - 100, give or take the clock's second boundaries
    with pytest.raises(ApiError) as refused:
        service.verify(_token_issued_ago("secret", 7, 700))
    assert refused.value.code == "TOKEN_EXPIRED"
