-- Failed passkey assertions per account (product.md "Sign-in": a failure counts only when
-- an assertion names one of the account's credentials and fails verification or its
-- counter regresses; rate limits keyed by (tenant, account) count failures only and live
-- in the database). One row per failure; only those inside the tenant's lockout window
-- count, older ones are pruned on the next failure. Mirrored in migrations/postgres.

CREATE TABLE account_failures (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id        TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    failed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX account_failures_by_user ON account_failures (tenant_id, user_id, failed_at);
