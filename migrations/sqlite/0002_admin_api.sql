-- Admin API: API keys, idempotent POSTs, the directory roles mapped to each user, signing
-- keys (the audit key first; OIDC and SAML keys later) and signed audit checkpoints.
-- Mirrored in migrations/postgres.

-- Per-admin API keys (`tnt_ak_...`): only the keyed hash is stored.
CREATE TABLE api_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_keys_by_user ON api_keys (tenant_id, user_id);

-- Idempotency-Key on POST (api.md): the first answer is replayed for 24 h.
CREATE TABLE idempotency_keys (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    caller      TEXT NOT NULL,
    key         TEXT NOT NULL,
    route       TEXT NOT NULL,
    status      BIGINT NOT NULL,
    body        TEXT NOT NULL,
    resource_id TEXT,
    had_secret  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, caller, key)
);

-- Role mappings that currently select a user (from directory groups or federation claims).
CREATE TABLE user_mapped_roles (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    mapping_id TEXT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('directory', 'federation', 'manual')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, mapping_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, mapping_id) REFERENCES role_mappings (tenant_id, id) ON DELETE CASCADE
);

-- Signing keys per tenant and purpose. The private part is sealed with the master key
-- (AEAD, associated data = tenant id + table + row id + purpose); public parts are kept
-- forever so that old signatures stay verifiable.
CREATE TABLE signing_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    purpose      TEXT NOT NULL CHECK (purpose IN ('audit', 'jwt', 'saml')),
    alg          TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    private_key  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at   BIGINT,
    PRIMARY KEY (tenant_id, id)
);
-- At most one active key per tenant, purpose and algorithm: the first key of a tenant is
-- created under this index and the process that loses the race re-reads.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (tenant_id, purpose, alg) WHERE state = 'active';

-- Checkpoints of the audit chain: (seq, hash) signed by the tenant's audit key.
CREATE TABLE audit_checkpoints (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
