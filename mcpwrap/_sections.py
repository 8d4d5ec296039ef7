"""Imports every module that registers a policy-file section, so the loader knows all keys."""

from ._audit import writer as _audit  # noqa: F401  (audit)

# policy: version, mode, default_action, rules, subjects, rate_limits
from ._policy import engine as _policy  # noqa: F401,E402

# integrity
from .interceptors import integrity  # noqa: F401,E402  (integrity)

# schema, secrets, injection
from .interceptors import injection, schema, secrets  # noqa: F401,E402

# approval
from .interceptors import approval as _approval  # noqa: F401,E402  (approval)

