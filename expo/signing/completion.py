"""What other domains do when a signing ceremony completes, in the transaction that marks it.

Signing knows nothing of what a ceremony is for. A domain that cares (the promotion pipeline
moves a project to "signed") adds a hook to the app's :class:`Completions` component in
:func:`expo.app.build_platform`; :func:`expo.signing.services.sign` runs every hook in the one call
that marks the ceremony complete, before that call commits, so the completion and what follows
from it are written together or not at all, exactly once whichever process signed last.

A hook changes the store only through the session it is given and never commits or rolls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from expo.signing.models import SigningCeremony

Hook = Callable[[AsyncSession, SigningCeremony], Awaitable[None]]


@dataclass
class Completions:
    """The hooks run when a ceremony completes, in the order they were added."""

    hooks: list[Hook] = field(default_factory=list)

    def add(self, hook: Hook) -> None:
        self.hooks.append(hook)
