"""Temperature conversion between Celsius and Fahrenheit, in pure Python."""

import re

ABSOLUTE_ZERO_C = -273.15
_READING = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*°?\s*([CcFf])\s*")


def celsius_to_fahrenheit(celsius):
    if celsius < ABSOLUTE_ZERO_C:
        raise ValueError(f"{celsius} °C is below absolute zero")
    return celsius * 9 / 5 + 32


def fahrenheit_to_celsius(fahrenheit):
    celsius = (fahrenheit - 32) * 5 / 9
    if celsius < ABSOLUTE_ZERO_C:
        raise ValueError(f"{fahrenheit} °F is below absolute zero")
    return celsius


def parse(reading):
    """'21.5C', '70 °F' -> (value, 'C' or 'F'); anything else raises ValueError."""
    match = _READING.fullmatch(reading)
    if not match:
        raise ValueError(f"not a temperature reading: {reading!r}")
    return float(match.group(1)), match.group(2).upper()
