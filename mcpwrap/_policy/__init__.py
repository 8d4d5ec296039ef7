"""Admission control: rule model and engine, value normalisation, rate limits, risk classes."""
