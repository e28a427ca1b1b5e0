-- Inbound federation per tenant (issue 7 part 4): upstream OIDC providers and SAML IdPs,
-- their e-mail domains (home-realm discovery, linking), the accounts linked to them by
-- (connection, upstream subject), the state of sign-ins under way, and the SAML assertion
-- ids already consumed. The OIDC client secret is sealed with the master key.

CREATE TABLE federation_connections (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('oidc', 'saml')),
    -- OIDC: issuer URL (discovery), client id, sealed client secret, JSON scopes.
    issuer        TEXT,
    client_id     TEXT,
    client_secret TEXT,
    scopes        TEXT NOT NULL DEFAULT '[]',
    -- SAML: the IdP's metadata XML.
    metadata      TEXT,
    -- The upstream claim (OIDC) or attribute (SAML) whose values select role mappings.
    claim         TEXT NOT NULL,
    allow_linking BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX federation_connections_name ON federation_connections (tenant_id, name);

-- One connection per e-mail domain in a tenant; `verified` by DNS TXT or the CLI.
CREATE TABLE federation_domains (
    tenant_id     TEXT NOT NULL,
    domain        TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    verified      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, domain),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES federation_connections (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE federated_identities (
    tenant_id     TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, subject),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES federation_connections (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX federated_identities_by_user ON federated_identities (tenant_id, user_id);

-- A sign-in sent upstream: id = keyed hash of the OIDC state (or the SAML request id),
-- single use, short-lived; `browser` = keyed hash of the cookie that ties it to the
-- browser that started it (OIDC).
CREATE TABLE federation_states (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    browser       TEXT,
    nonce         TEXT,
    pkce_verifier TEXT,
    pending       TEXT,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES federation_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX federation_states_expiry ON federation_states (tenant_id, expires_at);

-- SAML assertion ids already consumed (replay refusal), kept until they expire.
CREATE TABLE federation_assertions (
    tenant_id     TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    assertion_id  TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, assertion_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES federation_connections (tenant_id, id) ON DELETE CASCADE
);
