"""The assertions service: fetched upstream once, kept byte-exact, served from the database."""
