"""GraphQL types, inputs, enums and errors. No I/O: related objects come through loaders."""
