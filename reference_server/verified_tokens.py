"""Access tokens whose signature has been checked, so that a token is verified once, not once
per request: an RS256 verification is most of what authenticating a request costs.

Only what depends on the token alone is kept: its claims once its form, header and signature
checked out (`TokenService.decode_access_token`). What depends on the moment is checked on every
request as before: the claims' times against the clock, and the user still existing and active.
An entry is never used at or past its token's `exp`, and a token without an integer `exp` is not
kept. The cache is bounded (the oldest entries go first) and only tokens this server signed get
in, so a client sending garbage fills nothing. Each `TokenService` has its own; the keys do not
change while the server runs (a new signing key takes a restart, which empties it).
"""

from __future__ import annotations

from typing import Any

#: Tokens kept; past this the oldest go (a token that comes back is verified again).
MAX_ENTRIES = 4096


class VerifiedTokens:
    """token -> (exp, its verified claims); on the event loop only."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._claims: dict[str, tuple[int, dict[str, Any]]] = {}

    def get(self, token: str, now: float) -> dict[str, Any] | None:
        """A copy of the claims of a token verified before, unless it has expired since."""
        hit = self._claims.get(token)
        if hit is None:
            return None
        exp, claims = hit
        if now >= exp:
            del self._claims[token]
            return None
        return dict(claims)

    def put(self, token: str, claims: dict[str, Any], now: float) -> None:
        """Keep the claims of a token whose signature checked out, until its `exp`."""
        exp = claims.get("exp")
        if type(exp) is not int or now >= exp or self.max_entries <= 0:
            return
        while len(self._claims) >= self.max_entries:
            del self._claims[next(iter(self._claims))]
        self._claims[token] = (exp, dict(claims))

    def __len__(self) -> int:
        return len(self._claims)
