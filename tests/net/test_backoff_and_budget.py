import random

import pytest

from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.net.ratelimit import TokenBucket


def test_seed_policy_without_jitter():
    p = ReconnectPolicy(jitter=0.0)
    delays = [p.next_delay() for _ in range(21)]
    assert delays[:4] == [3.0, 4.5, 6.75, 10.125]
    assert max(delays[:20]) == 60.0 and delays[19] == 60.0  # capped
    assert delays[20] == 300.0  # after 20 failed tries: 5 minutes
    assert p.next_delay() == 3.0  # then the ladder starts again


def test_jitter_bounds_and_reset_after_healthy():
    p = ReconnectPolicy(jitter=0.2, rng=random.Random(1))
    for n in range(1, 15):
        d = p.next_delay()
        raw = min(3.0 * 1.5 ** (n - 1), 60.0)
        assert 0.8 * raw <= d <= 1.2 * raw
    p.healthy()
    assert p.failures == 0
    assert 2.4 <= p.next_delay() <= 3.6


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_token_bucket_paces_and_honours_pause():
    clock = FakeClock()
    b = TokenBucket(5, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert b.acquire() == 0.0
    assert b.acquire() == pytest.approx(0.2)  # 5 per second -> next token after 0.2 s
    b.pause(3.0)
    assert b.acquire() == pytest.approx(3.0)
    with pytest.raises(ValueError):
        TokenBucket(0, 1.0)


def test_token_bucket_charges_each_request_its_cost_and_a_big_one_leaves_a_debt():
    clock = FakeClock()
    b = TokenBucket(20, 1.0, clock=clock, sleep=clock.sleep)  # 20 a second, e.g. Binance weight
    assert b.acquire(5) == 0.0 and b.acquire(10) == 0.0  # 15 of 20 spent
    assert b.acquire(10) == pytest.approx(0.25)  # 5 left: wait until 10 are there
    assert b.acquire(40) == pytest.approx(1.0)  # more than the bucket holds: wait for a full one, then owe 20
    assert b.acquire(1) == pytest.approx(1.05)  # the debt is paid back first
