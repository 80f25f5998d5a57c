"""Every seed door's router, and a request that reaches a door's path but no route of it answered in that
seed's style (API.md: errors on these routes keep the seed's style)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from sluice.api.doors import haplo, learningbuilder, liquid, set_attribute_values, teamtracks
from sluice.api.doors.common import Render

ROUTERS = [learningbuilder.router, haplo.router, set_attribute_values.router, liquid.router, teamtracks.router]
_STYLES: list[tuple[str, Render]] = [
    ("/API/WorkflowImportQueue/", learningbuilder.error),
    ("/API/WorkflowInstance/", learningbuilder.error),
    (f"{haplo.BASE}/", haplo.error),
    (f"{liquid.BASE}/", liquid.rejected),
    ("/objectimport/", teamtracks.error),
    ("/job/", teamtracks.error),
]


def not_found(path: str, message: str) -> Response | None:
    """A 404 in the style of the seed whose path this is; None for any other path."""
    for prefix, render in _STYLES:
        if path.startswith(prefix):
            return render(404, message, {})
    return None
