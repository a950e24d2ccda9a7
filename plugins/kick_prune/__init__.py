"""Built-in pruning."""
