"""Who may do what on the admin port: bearer tokens with roles viewer < operator < approver.

Tokens come from the environment, never from the config file (which is kept in git):
- `LLM_ROLLOUT_ADMIN_TOKEN` (the variable named by `admin.token_env`): one token, name `admin`,
  full rights (approver), as before roles existed;
- `LLM_ROLLOUT_ADMIN_TOKENS` (`admin.tokens_env`): `name:role:token,name:role:token...`, role
  one of viewer, operator, approver. The token is everything after the second colon (it may hold
  colons, not commas). A malformed entry is skipped and logged by its position, never its token.

Reads (the rollouts, the audit log, /metrics) are open while the admin port is bound to loopback
and need a viewer token otherwise; health checks are always open. Changes need an operator;
approvals an approver. A token is compared with every configured one in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum

from aiohttp import web

from rollout.config.model import Admin

log = logging.getLogger("llm_rollout.admin")

DEFAULT_TOKENS_ENV = "LLM_ROLLOUT_ADMIN_TOKENS"


class Role(IntEnum):
    viewer = 1
    operator = 2
    approver = 3  # can do everything


@dataclass(frozen=True, slots=True)
class Token:
    name: str
    role: Role
    secret: bytes

    def __repr__(self) -> str:  # never print the secret, not even by accident
        return f"Token({self.name!r}, {self.role.name})"


def load_tokens(environ: Mapping[str, str], token_env: str, tokens_env: str) -> list[Token]:
    tokens = []
    single = environ.get(token_env, "")
    if single:
        tokens.append(Token("admin", Role.approver, single.encode()))
    for position, entry in enumerate(environ.get(tokens_env, "").split(","), start=1):
        if not entry.strip():
            continue
        token = _parse(entry.strip())
        if isinstance(token, str):
            log.error("%s entry %d ignored: %s", tokens_env, position, token)
        else:
            tokens.append(token)
    return tokens


def _parse(entry: str) -> Token | str:
    """A token, or what is wrong with the entry (without its secret)."""
    parts = entry.split(":", 2)
    if len(parts) != 3:
        return "expected name:role:token"
    name, role, secret = (p.strip() for p in parts)
    if not name:
        return "the name is empty"
    if role not in Role.__members__:
        return f"role must be viewer, operator or approver, not {role!r}"
    if not secret:
        return "the token is empty"
    return Token(name, Role[role], secret.encode())


def identify(authorization: str, tokens: list[Token]) -> Token | None:
    """The token an `Authorization: Bearer ...` header carries, or None. Every configured token
    is compared (in constant time), so timing tells neither which matched nor how closely."""
    given = authorization.removeprefix("Bearer ").encode()
    found = None
    for token in tokens:
        if hmac.compare_digest(given, token.secret):
            found = token
    return found


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_KEY = web.RequestKey("token", Token)  # the caller's token, for the audit's actor


class Access:
    """The admin port's policy: which role each handler needs, and the tokens that have one."""

    def __init__(self, tokens: list[Token], open_reads: bool, variables: str) -> None:
        self.tokens, self.open_reads, self.variables = tokens, open_reads, variables

    @classmethod
    def from_config(cls, admin: Admin, environ: Mapping[str, str]) -> Access:
        tokens = load_tokens(environ, admin.token_env, admin.tokens_env)
        return cls(tokens, is_loopback(admin.host), f"{admin.token_env} or {admin.tokens_env}")

    def reads(self, handler: Handler) -> Handler:
        """Open on loopback; a viewer token otherwise."""
        return handler if self.open_reads else self.needs(Role.viewer)(handler)

    def needs(self, role: Role) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            async def checked(request: web.Request) -> web.StreamResponse:
                refused = self._refusal(request, role)
                if refused is not None:
                    return refused
                return await handler(request)

            return checked

        return wrap

    def _refusal(self, request: web.Request, role: Role) -> web.Response | None:
        if not self.tokens:
            what = "reads off loopback" if role is Role.viewer else "changes"
            return error(403, f"{what} are disabled: set {self.variables} to enable them")
        token = identify(request.headers.get("Authorization", ""), self.tokens)
        if token is None:
            return error(401, "missing or wrong bearer token")
        if token.role < role:
            return error(
                403, f"token {token.name!r} has the role {token.role.name}: this needs {role.name}"
            )
        request[TOKEN_KEY] = token
        return None


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status)
