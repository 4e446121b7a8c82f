"""Risk limits as settings: positive numbers, at least one position, and the cap/limit of the venue's currency."""
import pytest

from twinstar_gui.core.risk_limits import RiskLimits


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="daily_loss_limit_usdt must be a positive number"):
        RiskLimits(daily_loss_limit_usdt=-5)
    with pytest.raises(ValueError, match="max_open_positions"):
        RiskLimits(max_open_positions=0)


@pytest.mark.parametrize("name", ["max_position_usdt", "daily_loss_limit_usdt", "max_position_krw",
                                  "daily_loss_limit_krw"])
@pytest.mark.parametrize("value", [0, -1.0, "100", None])
def test_every_amount_must_be_a_positive_number(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a positive number, got {value!r}"):
        RiskLimits(**{name: value})


@pytest.mark.parametrize("value", [0, 2.5, "3"])
def test_open_positions_is_a_whole_number_of_at_least_one(value):
    with pytest.raises(ValueError, match=f"max_open_positions must be an integer >= 1, got {value!r}"):
        RiskLimits(max_open_positions=value)
    assert RiskLimits(max_open_positions=1).max_open_positions == 1


def test_the_limits_are_in_the_venues_quote_currency():
    limits = RiskLimits(max_position_usdt=10.0, daily_loss_limit_usdt=2.0, max_position_krw=10_000.0,
                        daily_loss_limit_krw=2_000.0)
    assert (limits.max_position("USDT"), limits.daily_loss_limit("USDT")) == (10.0, 2.0)
    assert (limits.max_position("KRW"), limits.daily_loss_limit("KRW")) == (10_000.0, 2_000.0)
    defaults = RiskLimits()
    assert (defaults.max_position_usdt, defaults.max_open_positions, defaults.daily_loss_limit_usdt) == (1_000.0, 3,
                                                                                                        200.0)
    assert (defaults.max_position_krw, defaults.daily_loss_limit_krw) == (1_000_000.0, 200_000.0)
