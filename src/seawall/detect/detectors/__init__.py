"""Detectors, each named after the attack it catches; importing this registers them."""
