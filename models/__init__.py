"""Model library: the contract (descriptor), the catalogue, the store and the loaders.

Kept free of Qt so the CLI, tests and the window share it. The engine asks ``load_model`` for a
name or a file and reads everything it needs from the returned descriptor; it never imports a
specific architecture.
"""

from models.catalogue import CATALOGUE, DEFAULT_MODEL, CatalogueEntry, find_entry
from models.descriptor import LevelRange, ModelDescriptor, SizeRequirements
from models.library import ModelListing, listings, load_model

__all__ = ["CATALOGUE", "DEFAULT_MODEL", "CatalogueEntry", "LevelRange", "ModelDescriptor", "ModelListing",
           "SizeRequirements", "find_entry", "listings", "load_model"]
