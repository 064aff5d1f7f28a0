-- A STAND-IN for Supabase Vault (the `supabase_vault` extension), for tests only.
--
-- It has Vault's documented interface, so the program's SQL runs unchanged against it:
--   vault.create_secret(new_secret text, new_name text, new_description text, new_key_id uuid) returns uuid
--   vault.update_secret(secret_id uuid, new_secret text, new_name text, new_description text, new_key_id uuid)
--   view vault.decrypted_secrets (id, name, description, decrypted_secret, key_id, created_at, updated_at)
-- and name is unique, as in Vault. Unlike Vault it does NOT encrypt: `secret` holds the value in the clear
-- (base64 only, to keep the view doing real work). Never install this anywhere but a test database.

CREATE SCHEMA vault;

CREATE TABLE vault.secrets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text UNIQUE,
    description text NOT NULL DEFAULT '',
    secret text NOT NULL,
    key_id uuid,
    nonce bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION vault.create_secret(new_secret text, new_name text DEFAULT NULL, new_description text DEFAULT '',
                                    new_key_id uuid DEFAULT NULL) RETURNS uuid
LANGUAGE sql SET search_path = '' AS $$
    INSERT INTO vault.secrets (secret, name, description, key_id)
    VALUES (encode(convert_to(new_secret, 'UTF8'), 'base64'), new_name, coalesce(new_description, ''), new_key_id)
    RETURNING id
$$;

CREATE FUNCTION vault.update_secret(secret_id uuid, new_secret text DEFAULT NULL, new_name text DEFAULT NULL,
                                    new_description text DEFAULT NULL, new_key_id uuid DEFAULT NULL) RETURNS void
LANGUAGE sql SET search_path = '' AS $$
    UPDATE vault.secrets SET
        secret = coalesce(encode(convert_to(new_secret, 'UTF8'), 'base64'), secret),
        name = coalesce(new_name, name),
        description = coalesce(new_description, description),
        key_id = coalesce(new_key_id, key_id),
        updated_at = now()
    WHERE id = secret_id
$$;

CREATE VIEW vault.decrypted_secrets AS
    SELECT id, name, description, secret,
           convert_from(decode(secret, 'base64'), 'UTF8') AS decrypted_secret,
           key_id, nonce, created_at, updated_at
    FROM vault.secrets;
