"""Does a name or a value look like a secret? One adapter over the shared secret catalogue.

The policy pack, the repository check and settings must agree on what a secret looks like, so
settings asks the shared catalogue (`policies/catalogue.py`: `is_secret_name`, `is_public_by_design`,
`looks_like_secret_value`) through the three functions below and nothing else. Until that module is
merged, the fallback is the rule settings had before: the `SECRET_LOOKING_NAME` pattern for names
and `policies/patterns.py`'s known token formats for values (TEMPORARY: remove the fallback once the
catalogue is on main).
"""

from __future__ import annotations

import re

try:  # the shared catalogue (policies/catalogue.py)
    from policies.catalogue import is_public_by_design as _is_public_by_design
    from policies.catalogue import is_secret_name as _is_secret_name
    from policies.catalogue import looks_like_secret_value as _looks_like_secret_value

    CATALOGUE = True
except ImportError:  # pragma: no cover - exercised until the catalogue is merged
    CATALOGUE = False

# Fallback only: names that look like they hold a secret (the rule before the catalogue).
SECRET_LOOKING_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|SERVICE_ROLE|CREDENTIAL|(^|_)AUTH($|_)|API_KEY|(^|_)KEY$|_KEY_)"
)
PUBLIC_NAME_ALLOWED = frozenset({"NEXT_PUBLIC_SUPABASE_ANON_KEY"})


def looks_secret(name: str, value: str | None = None) -> bool:
    """True for an environment variable name that suggests a secret value (public-by-design names excepted)."""
    if CATALOGUE:
        return _is_secret_name(name) and not _is_public_by_design(name, value)
    return name not in PUBLIC_NAME_ALLOWED and bool(SECRET_LOOKING_NAME.search(name.upper()))


def looks_like_secret_value(value: str) -> bool:
    """True for a value shaped like a credential (a token format, a non-anon JWT, a URL with a password)."""
    if CATALOGUE:
        return bool(_looks_like_secret_value(value))
    try:
        from policies.patterns import find_secret_values
    except ImportError:  # pragma: no cover - the patterns module ships with the repository
        return False
    return bool(find_secret_values(value))
