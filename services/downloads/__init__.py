"""The downloads service: snap downloads: the verified local blob cache."""
