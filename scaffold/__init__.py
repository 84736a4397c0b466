"""A new persona repository: ``personas init`` and the schema files it writes."""
