"""The revisions service: what the proxy knows of snap revisions, and the admin API around them."""
