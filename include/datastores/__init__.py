"""Where a request's personal data is found: the datastore registry, extraction, identity evidence."""
