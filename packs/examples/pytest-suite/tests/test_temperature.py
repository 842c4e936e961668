"""pytest tests of temperature.py: 8 cases (a parametrized test gives 3 of them, 1 skipped)."""

import pytest
import temperature


def test_freezing_point():
    assert temperature.celsius_to_fahrenheit(0) == 32


def test_boiling_point():
    assert temperature.fahrenheit_to_celsius(212) == pytest.approx(100)


@pytest.mark.parametrize("celsius", [-40, 0, 37.5])
def test_round_trip(celsius):
    fahrenheit = temperature.celsius_to_fahrenheit(celsius)
    assert temperature.fahrenheit_to_celsius(fahrenheit) == pytest.approx(celsius)


def test_parse_readings():
    assert temperature.parse("21.5C") == (21.5, "C")
    assert temperature.parse(" 70 °f ") == (70.0, "F")


def test_below_absolute_zero_is_rejected():
    with pytest.raises(ValueError, match="below absolute zero"):
        temperature.celsius_to_fahrenheit(-300)
    with pytest.raises(ValueError, match="below absolute zero"):
        temperature.fahrenheit_to_celsius(-500)


@pytest.mark.skip(reason="Kelvin is not supported by this example")
def test_kelvin():
    assert temperature.parse("300K") == (300.0, "K")
