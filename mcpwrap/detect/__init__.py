"""Content detectors: normalisation, secrets/PII, prompt injection.

Importing this package is cheap; the detector modules compile their patterns when first imported, which the
interceptors do when they are built (``normalize``, ``secrets``, ``injection``). The type names live here so
that policy parsing needs no detector.
"""

PII_TYPES = ("email", "phone", "payment_card", "us_ssn", "iban")
SECRET_TYPES = (
    "private_key",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "stripe_key",
    "openai_key",
    "anthropic_key",
    "google_api_key",
    "jwt",
    "basic_auth",
    "password_assignment",
)
ALL_TYPES = SECRET_TYPES + PII_TYPES

__all__ = ["PII_TYPES", "SECRET_TYPES", "ALL_TYPES"]
