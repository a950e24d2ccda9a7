"""Built-in model loaders."""
