"""The rules of each domain. Resolvers take the context and inputs, call repositories in
``db/`` and return rows; the schema turns rows into GraphQL types."""
