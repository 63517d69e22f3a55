"""SchemaCurator: SchemaGen's schema without value domains on identifier features."""
