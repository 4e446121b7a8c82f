import pytest

from twinstar_gui.core.models import Candle
from twinstar_gui.core.window import CandleWindow


def c(i):
    return Candle(1_700_000_000_000 + i * 900_000, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 0.001 * i)


@pytest.mark.parametrize("cap,n", [(1, 5), (5, 3), (5, 5), (7, 40), (1000, 2500)])
def test_window_keeps_the_newest_in_order(cap, n):
    w = CandleWindow(cap)
    for i in range(n):
        w.append(c(i))
    kept = list(range(max(0, n - cap), n))
    assert len(w) == len(kept) and list(w) == [c(i) for i in kept]
    assert w[-1] == c(n - 1) and w[0] == c(kept[0])
    arr = w.array()
    assert arr.shape == (len(kept), 6) and arr[:, 0].tolist() == [c(i).open_time for i in kept]
    with pytest.raises(IndexError):
        w[len(kept)]


def test_clear_then_reuse_and_bad_size():
    w = CandleWindow(3)
    for i in range(10):
        w.append(c(i))
    w.clear()
    assert len(w) == 0 and list(w) == []
    w.append(c(42))
    assert list(w) == [c(42)]
    with pytest.raises(ValueError, match="window size"):
        CandleWindow(0)


def test_indexing_from_both_ends_after_wrapping():
    w = CandleWindow(5)
    for i in range(12):  # holds 7..11, the ring's start is in the middle of the buffer
        w.append(c(i))
    assert [w[i] for i in range(5)] == [c(i) for i in range(7, 12)]
    assert [w[i] for i in range(-5, 0)] == [c(i) for i in range(7, 12)]
    for bad in (5, -6, 100):
        with pytest.raises(IndexError, match="^candle window index out of range$"):
            w[bad]


def test_an_empty_window_has_no_candles():
    w = CandleWindow(4)
    assert len(w) == 0 and list(w) == [] and w.array().shape == (0, 6)
    for bad in (0, -1):
        with pytest.raises(IndexError):
            w[bad]


def test_candles_come_back_with_their_types_and_values():
    w = CandleWindow(3)
    w.append(Candle(1_700_000_000_000, 1.5, 2.25, 0.75, 2.0, 0.125))
    for got in (w[0], next(iter(w))):
        assert got == Candle(1_700_000_000_000, 1.5, 2.25, 0.75, 2.0, 0.125)
        assert type(got.open_time) is int and type(got.close) is float


def test_array_is_a_copy():
    w = CandleWindow(3)
    w.append(c(1))
    arr = w.array()
    arr[0, 4] = -1.0
    assert w[0] == c(1)
    for i in range(2, 5):  # wrapped
        w.append(c(i))
    arr = w.array()
    arr[:, 4] = -1.0
    assert list(w) == [c(2), c(3), c(4)]


@pytest.mark.parametrize("cap", [16, 17, 33])
def test_growing_past_each_step_keeps_every_candle(cap):
    w = CandleWindow(cap)
    for i in range(cap):
        w.append(c(i))
        assert list(w) == [c(k) for k in range(i + 1)]
    w.append(c(cap))
    assert list(w) == [c(k) for k in range(1, cap + 1)] and len(w) == cap


def test_clear_after_wrapping_starts_from_the_front():
    w = CandleWindow(4)
    for i in range(7):
        w.append(c(i))
    w.clear()
    for i in range(10, 16):
        w.append(c(i))
    assert list(w) == [c(i) for i in range(12, 16)] and w[0] == c(12)


def test_size_and_repr():
    w = CandleWindow(5)
    w.append(c(0))
    w.append(c(1))
    assert w.maxlen == 5 and repr(w) == "CandleWindow(2/5)"
    assert CandleWindow(1).maxlen == 1
    with pytest.raises(ValueError, match="window size must be > 0, got -3"):
        CandleWindow(-3)
