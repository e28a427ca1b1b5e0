-- SAML 2.0 identity provider per tenant (issue 7): registered service providers and the
-- AuthnRequest ids already answered (replay refusal). The IdP signing key lives in
-- signing_keys with purpose 'saml'.

CREATE TABLE saml_sps (
    tenant_id            TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                   TEXT NOT NULL,
    entity_id            TEXT NOT NULL,
    -- JSON: [{"binding", "location", "index", "is_default"}]
    acs                  TEXT NOT NULL,
    -- JSON: [base64 DER certificate]
    signing_certs        TEXT NOT NULL,
    encryption_certs     TEXT NOT NULL,
    want_requests_signed BIGINT NOT NULL,
    metadata             TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX saml_sps_entity ON saml_sps (tenant_id, entity_id);

CREATE TABLE saml_request_ids (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sp_id      TEXT NOT NULL,
    request_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sp_id, request_id)
);
CREATE INDEX saml_request_ids_expiry ON saml_request_ids (tenant_id, expires_at);
