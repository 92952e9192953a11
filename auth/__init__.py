"""Authentication (passwords, our tokens, external OpenID tokens) and permissions."""
