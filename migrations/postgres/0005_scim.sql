-- SCIM 2.0 provisioning (issue 6): bearer tokens, resources with their attribute values
-- (the filter translator queries scim_values), group members, and per-tenant sync status.

CREATE TABLE scim_tokens (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (token_hash)
);

-- One row per SCIM resource. Users also have a row in `users` (source 'scim'), whose
-- deletion removes this one. user_name_ci enforces userName uniqueness per tenant.
CREATE TABLE scim_resources (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    user_id      TEXT,
    user_name_ci TEXT,
    doc          TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, user_name_ci),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_resources_by_kind ON scim_resources (tenant_id, kind, created_at);

-- Every attribute value of every resource (attr/sub lower-cased, idx = position in a
-- multi-valued attribute, val_ci = lower(val)).
CREATE TABLE scim_values (
    tenant_id   TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    attr        TEXT NOT NULL,
    sub         TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    val         TEXT NOT NULL,
    val_ci      TEXT NOT NULL,
    FOREIGN KEY (tenant_id, resource_id) REFERENCES scim_resources (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_values_by_resource ON scim_values (tenant_id, resource_id, attr, sub, idx);
CREATE INDEX scim_values_ci ON scim_values (tenant_id, attr, sub, val_ci);
CREATE INDEX scim_values_exact ON scim_values (tenant_id, attr, sub, val);

CREATE TABLE scim_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    display   TEXT,
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES scim_resources (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, member_id) REFERENCES scim_resources (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_members_by_member ON scim_members (tenant_id, member_id);

-- Last successful SCIM request and the errors of the last 24 hours, for the MSP overview.
CREATE TABLE scim_status (
    tenant_id          TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    last_sync_at       BIGINT,
    error_count        BIGINT NOT NULL DEFAULT 0,
    error_window_start BIGINT NOT NULL DEFAULT 0,
    last_error         TEXT
);
