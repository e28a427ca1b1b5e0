-- OpenID Connect provider: clients, sessions, pending authorization requests, one-time
-- codes, refresh-token families, revoked access tokens, and customer-side identities of
-- MSP users come from 0001 (msp_identities). Mirrored in migrations/postgres.

CREATE TABLE clients (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    name             TEXT NOT NULL,
    -- confidential clients: keyed hash of the secret; NULL for public clients and for
    -- private_key_jwt clients.
    secret_hash      TEXT,
    auth_method      TEXT NOT NULL CHECK (auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')),
    -- JSON arrays
    redirect_uris    TEXT NOT NULL DEFAULT '[]',
    post_logout_uris TEXT NOT NULL DEFAULT '[]',
    grant_types      TEXT NOT NULL DEFAULT '[]',
    scopes           TEXT NOT NULL DEFAULT '[]',
    -- JWKS (JSON) for private_key_jwt
    jwks             TEXT,
    id_token_alg     TEXT NOT NULL DEFAULT 'ES256',
    require_pkce     BIGINT NOT NULL DEFAULT 1,
    -- may obtain access tokens for the admin API (scope admin)
    admin_api        BIGINT NOT NULL DEFAULT 0,
    initiate_login_uri TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Server-side sessions; the cookie carries the id, the database its keyed hash.
CREATE TABLE sessions (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    id_hash      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    amr          TEXT NOT NULL DEFAULT '[]',
    -- JSON {"iss":..., "sub":...} when an MSP user acts in a customer
    act          TEXT,
    msp_session  TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, id_hash)
);
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id);

-- An authorization request waiting for sign-in, kept server-side.
CREATE TABLE authorize_requests (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    params     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Authorization codes: keyed hash only, single use, 60 s.
CREATE TABLE auth_codes (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    code_hash      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    -- JSON: whose privileges (a local user, or an MSP user through its customer identity)
    subject        TEXT NOT NULL,
    session_id     TEXT,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    resource       TEXT,
    auth_time      BIGINT NOT NULL,
    amr            TEXT NOT NULL DEFAULT '[]',
    act            TEXT,
    expires_at     BIGINT NOT NULL,
    used           BIGINT NOT NULL DEFAULT 0,
    -- client_id may name a built-in client (an MSP's `switch-{customer}`), so no foreign
    -- key: deleting a client deletes its codes and refresh tokens explicitly.
    PRIMARY KEY (tenant_id, code_hash)
);

-- Refresh tokens, rotated atomically; a reused one revokes its whole family.
CREATE TABLE refresh_tokens (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL,
    family_id    TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    subject      TEXT NOT NULL,
    session_id   TEXT,
    scope        TEXT NOT NULL,
    resource     TEXT,
    amr          TEXT NOT NULL DEFAULT '[]',
    act          TEXT,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    family_expires_at BIGINT NOT NULL,
    used         BIGINT NOT NULL DEFAULT 0,
    revoked      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (tenant_id, user_id);

-- Access tokens revoked before they expire (jti), checked by introspection and userinfo.
CREATE TABLE revoked_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);

-- Access tokens issued to users, so that revocation cascades can find their jti.
CREATE TABLE issued_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    jti        TEXT NOT NULL,
    user_id    TEXT,
    client_id  TEXT NOT NULL,
    session_id TEXT,
    family_id  TEXT,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX issued_tokens_by_user ON issued_tokens (tenant_id, user_id);

-- jti of client assertions (private_key_jwt) already used, until they expire.
CREATE TABLE client_assertion_jtis (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, jti)
);
