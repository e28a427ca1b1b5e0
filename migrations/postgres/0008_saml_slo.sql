-- SAML single logout and metadata by URL (issue 7): each service provider's
-- SingleLogoutService endpoints from its metadata (JSON: [{"binding", "location",
-- "response_location"}]) and the https URL its metadata was fetched from, if it was.
ALTER TABLE saml_sps ADD COLUMN slo TEXT NOT NULL DEFAULT '[]';
ALTER TABLE saml_sps ADD COLUMN metadata_url TEXT;
