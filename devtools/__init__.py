"""Development tools, not shipped in the production image: the stand-ins, demo data, an example source."""
