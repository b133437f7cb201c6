"""The two error types of the assertion codec."""


class AssertionFormatError(ValueError):
    """Malformed assertion text: the only error the parse functions raise."""


class SignatureError(Exception):
    """An assertion's signature, or the key meant to check it, does not hold up."""
