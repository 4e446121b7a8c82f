"""Prices on the chart's axis and readout: digits, never an exponent (KRW prices are in the tens of millions)."""
import pytest

from twinstar_gui.ui.chart.price_axis import PriceAxis, price_text


@pytest.mark.parametrize("value, text", [
    (84_500_000.0, "84,500,000"), (83_877_000.0, "83,877,000"), (65_000.1, "65,000.1"), (1_900.25, "1,900.25"),
    (0.0000089, "0.0000089"), (0.35, "0.35"), (107_800.0, "107,800"), (0.0, "0"), (-1234.5, "-1,234.5")])
def test_price_text_reads_like_a_price(value, text):
    assert price_text(value) == text


def test_the_axis_labels_large_prices_in_digits_with_the_decimals_the_spacing_needs(qapp):
    axis = PriceAxis(orientation="right")
    assert axis.tickStrings([84_000_000.0, 84_500_000.0], 1.0, 500_000.0) == ["84,000,000", "84,500,000"]
    assert axis.tickStrings([65_000.0, 65_000.5], 1.0, 0.5) == ["65,000.0", "65,000.5"]
    assert axis.tickStrings([0.0000085, 0.000009], 1.0, 0.0000005) == ["0.0000085", "0.0000090"]
    assert all("e" not in s for s in axis.tickStrings([1e7, 2e7, 3e7], 1.0, 1e7))
