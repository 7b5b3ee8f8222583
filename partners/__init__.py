"""Partner brands: registry, connectors, exchanges and settlement."""
