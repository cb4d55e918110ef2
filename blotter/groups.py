"""Who receives what: Channels groups of the blotter feed.

A user's consumer joins PUBLIC (firm and venue kill switches; the market), their own user group
(a kill switch on them as a trader) and either ALL (risk, compliance: every account) or the group
of each account granted to them. The feed sends an account's messages to that account's group
and to ALL, so nobody gets another account's data and nobody gets a message twice.
"""

from __future__ import annotations

PUBLIC = "blotter.public"
ALL = "blotter.all"


def account_group(code: str) -> str:
    # Group names allow only ASCII letters, digits, "-", "_" and "."; account codes may hold more.
    return f"blotter.acct.{code.encode().hex()}"


def user_group(username: str) -> str:
    return f"blotter.user.{username.encode().hex()}"


def groups_of(account: str | None, trader: str | None = None, oversight: bool = False) -> tuple[str, ...]:
    """Where a message about an account (or a trader; neither: everyone; oversight: those who see
    every account) goes."""
    if oversight:
        return (ALL,)
    if account is not None:
        return (account_group(account), ALL)
    if trader is not None:
        return (user_group(trader), ALL)
    return (PUBLIC,)
