"""The account that may register proxies with the simulator (``serve --registrar``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

DEFAULT_REGISTRAR = "registrar@example.com:sim-password:123456"


@dataclass(frozen=True)
class Registrar:
    account: str
    password: str
    otp: str | None

    @classmethod
    def parse(cls, text: str) -> Registrar:
        account, _, rest = text.partition(":")
        password, _, otp = rest.partition(":")
        if not account or not password:
            raise ValueError("--registrar is EMAIL:PASSWORD or EMAIL:PASSWORD:OTP")
        return cls(account, password, otp or None)

    @property
    def account_id(self) -> str:
        return "acct" + hashlib.sha256(self.account.encode()).hexdigest()[:28]
