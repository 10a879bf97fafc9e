-- The contract version (clientele:crm@X.Y.Z) a plugin version was built
-- against. Every version published before this column existed was built
-- against 0.1.0, the only contract served then.
ALTER TABLE plugin_versions ADD COLUMN contract TEXT NOT NULL DEFAULT '0.1.0';
