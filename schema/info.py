"""The typed `Info` every resolver takes. The context class lives in gateway/; importing it only
for type checking keeps the layers one-way (Strawberry finds `info` by its name at run time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

if TYPE_CHECKING:
    from gateway.context import Context

    Info = strawberry.Info[Context, None]
else:
    Info = strawberry.Info
