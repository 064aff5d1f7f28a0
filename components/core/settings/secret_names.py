"""Does a name or a value look like a secret? Settings ask the shared secret catalogue, nothing else.

The policy pack, the repository check and settings must agree on what a secret looks like, so all
three import `policies/catalogue.py` (a leaf module: the standard library and detect-secrets only).
It is the one place in `components/` that imports from `policies/`: the catalogue is data about
secrets, not a rule about our classes, and keeping one copy is the point.
"""

from __future__ import annotations

from policies.catalogue import is_public_by_design, is_secret_name
from policies.catalogue import looks_like_secret_value as _looks_like_secret_value


def looks_secret(name: str, value: str | None = None) -> bool:
    """True for an environment variable name that suggests a secret value (public-by-design names excepted)."""
    return is_secret_name(name) and not is_public_by_design(name, value)


def looks_like_secret_value(value: str) -> bool:
    """True for a value shaped like a credential (a token format, a non-anon JWT, a URL with a password)."""
    return bool(_looks_like_secret_value(value))
