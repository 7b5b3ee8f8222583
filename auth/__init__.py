"""OAuth authorization server, principals, scopes and permissions."""
