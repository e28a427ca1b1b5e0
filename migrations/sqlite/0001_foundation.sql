-- tenantry foundation schema: the whole model of product.md and privileges.md.
-- Mirrored in migrations/postgres with the same number and name. Types are limited to
-- TEXT and BIGINT so that sqlx's Any driver decodes them on both backends; booleans are
-- 0/1, times are unix seconds, JSON is TEXT.

CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO server_meta (key, value) VALUES ('tenants_version', '1');

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('msp', 'customer', 'standalone')),
    msp_id       TEXT REFERENCES tenants (id),
    display_name TEXT NOT NULL,
    settings     TEXT NOT NULL DEFAULT '{}',
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL,
    CHECK ((kind = 'customer') = (msp_id IS NOT NULL))
);
CREATE INDEX tenants_by_msp ON tenants (msp_id);

-- A deleted tenant's name stays unusable for 30 days.
CREATE TABLE quarantined_names (
    name     TEXT PRIMARY KEY,
    until_at BIGINT NOT NULL
);

-- Server-level audit: deletions of MSPs and standalone orgs, which have no parent chain.
CREATE TABLE server_audit (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    request_id TEXT
);

CREATE TABLE networks (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE network_tags (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    network_id TEXT NOT NULL,
    tag        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, network_id, tag),
    FOREIGN KEY (tenant_id, network_id) REFERENCES networks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX network_tags_by_tag ON network_tags (tenant_id, tag);

-- Named port-management privileges defined on one network (privileges.md).
CREATE TABLE port_privileges (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    network_id    TEXT NOT NULL,
    name          TEXT NOT NULL,
    port_tags     TEXT NOT NULL DEFAULT '[]',
    allow_capture BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, network_id, name),
    FOREIGN KEY (tenant_id, network_id) REFERENCES networks (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE users (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL,
    display_name  TEXT,
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    source        TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'scim', 'federation')),
    external_id   TEXT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email_norm)
);

-- An admin's own account in an organization: org access plus network/tag grants.
CREATE TABLE admin_memberships (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    org_access TEXT NOT NULL CHECK (org_access IN ('none', 'read-only', 'full')),
    org_roles  TEXT NOT NULL DEFAULT '[]',
    enrolment  TEXT NOT NULL DEFAULT 'pending' CHECK (enrolment IN ('pending', 'enrolled')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- target is 'network:<id>' or 'tag:<tag>'; network_id is set for network targets so that
-- deleting the network removes its grants.
CREATE TABLE admin_grants (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    membership_id TEXT NOT NULL,
    target        TEXT NOT NULL,
    network_id    TEXT,
    access        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, membership_id, target, access),
    FOREIGN KEY (tenant_id, membership_id) REFERENCES admin_memberships (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, network_id) REFERENCES networks (tenant_id, id) ON DELETE CASCADE
);

-- MSP staff roles (tenant_id is the MSP); scope_all = 1 covers every customer. A
-- 'technician' is staff without an MSP role: it reaches customers only through delegations.
CREATE TABLE msp_staff_roles (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('super-user', 'network-admin', 'observer', 'installer', 'helpdesk', 'technician')),
    scope_all  BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE msp_staff_scope (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, user_id, customer_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES msp_staff_roles (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX msp_staff_scope_by_customer ON msp_staff_scope (customer_id);

-- A technician's access to one customer (tenant_id is the customer). bundle is JSON
-- {"org_access": ..., "grants": [{"target": ..., "access": ...}]}.
CREATE TABLE delegations (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    msp_tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    msp_user_id   TEXT NOT NULL,
    bundle        TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),
    expires_at    BIGINT,
    created_by    TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   BIGINT,
    revoked_by    TEXT,
    revoked_at    BIGINT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (msp_tenant_id, msp_user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX delegations_by_msp_user ON delegations (msp_tenant_id, msp_user_id);

-- The customer-side identity of an MSP user (its own id, distinct from local users), and
-- an optional explicit link to a local account of the customer.
CREATE TABLE msp_identities (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    msp_tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    msp_user_id    TEXT NOT NULL,
    linked_user_id TEXT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, msp_tenant_id, msp_user_id),
    FOREIGN KEY (msp_tenant_id, msp_user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, linked_user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX msp_identities_by_msp_user ON msp_identities (msp_tenant_id, msp_user_id);

-- A named role mapping: a privilege bundle (or, on an MSP tenant, an MSP role and scope),
-- selected by directory groups (by SCIM group id or display name) or federation claim values.
CREATE TABLE role_mappings (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    bundle     TEXT NOT NULL DEFAULT '{}',
    msp_role   TEXT,
    msp_scope  TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- kind: group_id, group_name or claim (claim names the claim or SAML attribute).
CREATE TABLE role_mapping_selectors (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    mapping_id TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('group_id', 'group_name', 'claim')),
    claim      TEXT NOT NULL DEFAULT '',
    value      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, claim, value),
    FOREIGN KEY (tenant_id, mapping_id) REFERENCES role_mappings (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX role_mapping_selectors_by_mapping ON role_mapping_selectors (tenant_id, mapping_id);

-- Passkey enrolment links: only the keyed hash of the token is stored.
CREATE TABLE enrolment_links (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- The tenant's audit chain: one head row per tenant, entries hashed onto the previous.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TABLE audit_log (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    actor_msp      TEXT,
    actor_msp_user TEXT,
    action         TEXT NOT NULL,
    target         TEXT NOT NULL,
    before_state   TEXT,
    after_state    TEXT,
    request_id     TEXT,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
