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
