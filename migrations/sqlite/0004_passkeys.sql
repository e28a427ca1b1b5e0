-- Passkeys (WebAuthn credentials) and WebAuthn ceremony state (product.md "Sign-in",
-- security.md: ceremony state 5 min, single use). Mirrored in migrations/postgres.
-- webauthn-rs's own types are stored as JSON TEXT; core never looks inside them.

CREATE TABLE passkeys (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    -- base64url (no padding) of the raw credential id
    credential_id   TEXT NOT NULL,
    passkey         TEXT NOT NULL,
    name            TEXT NOT NULL,
    sign_count      BIGINT NOT NULL DEFAULT 0,
    backup_eligible BIGINT NOT NULL DEFAULT 0,
    backup_state    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, credential_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX passkeys_by_user ON passkeys (tenant_id, user_id);

-- kind 'register' is bound to a user and to the enrolment link's hash; 'login' to no one.
CREATE TABLE webauthn_ceremonies (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('register', 'login')),
    user_id    TEXT,
    link_hash  TEXT,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (tenant_id, expires_at);

-- Failed sign-in and enrolment attempts per client address in a fixed window (product.md:
-- rate limits count failures only and live in the database, so processes share them).
CREATE TABLE login_failures (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_key   TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_key)
);
