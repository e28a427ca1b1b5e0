-- Domain verification by DNS (decisions.md "SAML and federation"; issue 7): every declared
-- domain of a federation connection carries a random value that its owner publishes as
-- the TXT record `_tenantry.{domain}` = `tenantry-verification={value}`; a domain is
-- verified when the server finds that record, or by hand with the CLI. The SAML IdP
-- metadata URL (fetched once, at registration) is kept with the connection for the record.

ALTER TABLE federation_domains ADD COLUMN verification_token TEXT NOT NULL DEFAULT '';
UPDATE federation_domains SET verification_token = replace(gen_random_uuid()::text, '-', '')
    WHERE verification_token = '';
-- 'dns' or 'cli'; NULL while unverified (and for rows verified before this migration).
ALTER TABLE federation_domains ADD COLUMN verified_by TEXT;
ALTER TABLE federation_domains ADD COLUMN verified_at BIGINT;

ALTER TABLE federation_connections ADD COLUMN metadata_url TEXT;
