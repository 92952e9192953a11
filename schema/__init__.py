"""The GraphQL schema, one module per domain. Fields are one line that calls a resolver."""
