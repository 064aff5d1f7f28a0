"""Deprecated alias of `policies/catalogue.py`, kept for importers not yet moved (tests/test_sentry.py).

There is one catalogue of secret names and token shapes: import from `policies.catalogue`.
"""

from __future__ import annotations

try:
    from .catalogue import Finding, find_secret_values, is_placeholder, redact, secret_kind
    from .catalogue import is_secret_name as looks_secret_name
except ImportError:  # the pack runtime puts policies/ itself on sys.path
    from catalogue import Finding, find_secret_values, is_placeholder, redact, secret_kind  # type: ignore[no-redef]
    from catalogue import is_secret_name as looks_secret_name  # type: ignore[no-redef]

SecretMatch = Finding
__all__ = ["Finding", "SecretMatch", "find_secret_values", "is_placeholder", "looks_secret_name", "redact",
           "secret_kind"]
