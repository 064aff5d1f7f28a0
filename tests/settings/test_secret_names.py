"""The one adapter settings use to judge names and values: the shared catalogue (policies/catalogue.py)."""

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


def test_settings_refuse_exactly_the_names_the_pack_and_repo_check_refuse(capsys):
    """One catalogue: for every name in the pack's verdict table, a publicEnv entry is refused by the whole
    offline plan exactly when the catalogue calls it secret and not public by design."""
    from tests.test_policies_catalogue import NAME_VERDICTS
    from tools.plan import main

    for name, (_secret, _public, refused) in sorted(NAME_VERDICTS.items()):
        assert looks_secret(name) == refused, name
    for name in ("NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", "DB_PASS", "PRIVATE_BETA", "GITHUB_PAT"):
        code = main(["--stack", "staging", "--set", f"frontend.publicEnv.{name}=https://example.invalid/x"])
        err = capsys.readouterr().err
        assert (code == 2 and f"publicEnv.{name}" in err) == NAME_VERDICTS[name][2], (name, code)
