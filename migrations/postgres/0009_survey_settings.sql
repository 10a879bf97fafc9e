-- A survey's own settings (an ACSI survey's weights), as JSON.
ALTER TABLE surveys ADD COLUMN settings TEXT;
