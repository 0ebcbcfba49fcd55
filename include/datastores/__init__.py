"""Where a request's personal data is found: the datastore registry, extraction, identity evidence.

``personal_data_source``, ``load_registry`` and ``RegistryError`` are re-exported here: a deployment's own Python
sources import them from ``include.datastores`` (the module's name before it became this package).
"""

from include.datastores.registry import RegistryError, load_registry
from include.datastores.sources import personal_data_source

__all__ = ["RegistryError", "load_registry", "personal_data_source"]
