"""The auth service: device sessions (nonces, sessions) and the device registry."""
