"""The one adapter settings use to judge names and values (the shared catalogue, or its temporary fallback)."""

from __future__ import annotations

import secrets

import pytest

from components.core.settings import looks_like_secret_value, looks_secret
from components.core.settings.services import anon_key_problems, jwt_claims


@pytest.mark.parametrize("name", ["STRIPE_SECRET_KEY", "DATABASE_PASSWORD", "GITHUB_TOKEN", "PAYMENTS_API_KEY"])
def test_secret_looking_names(name):
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["NEXT_PUBLIC_SUPABASE_ANON_KEY", "NEXT_PUBLIC_SITE_URL", "FEATURE_FLAGS"])
def test_public_names(name):
    assert not looks_secret(name)


def test_credential_shaped_values():
    assert looks_like_secret_value("sk_" + "live_" + secrets.token_hex(12))
    assert looks_like_secret_value(f"postgres://etl:{secrets.token_hex(8)}@db.example.com/postgres")
    assert not looks_like_secret_value("https://app.kingtavo.com")
    assert not looks_like_secret_value("sb_publishable_staging-placeholder")


def test_jwt_claims_decode_padded_and_unpadded_and_refuse_garbage():
    import base64
    import json

    body = base64.urlsafe_b64encode(json.dumps({"role": "anon", "ref": "a" * 20}).encode()).decode()
    for payload in (body, body.rstrip("=")):
        assert jwt_claims(f"eyJhbGciOiJIUzI1NiJ9.{payload}.sig") == {"role": "anon", "ref": "a" * 20}
    assert jwt_claims("not.a.jwt") is None
    assert jwt_claims("only-one-part") is None
    assert anon_key_problems(f"eyJhbGciOiJIUzI1NiJ9.{body}.sig", "a" * 20) == []
