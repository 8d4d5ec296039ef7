"""Imports every module that registers a policy-file section, so the loader knows all keys."""

from . import _audit  # noqa: F401  (audit)

# policy: version, mode, default_action, rules, subjects, rate_limits
from . import _policy  # noqa: F401,E402

# integrity
from .interceptors import integrity  # noqa: F401,E402  (integrity)

# schema, secrets, injection

# approval
from .interceptors import approval as _approval  # noqa: F401,E402  (approval)

