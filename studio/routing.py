"""Websocket routes, collected from each app's `routing.websocket_urlpatterns`."""

from studio.runs.routing import websocket_urlpatterns as runs_routes
from studio.system.routing import websocket_urlpatterns as system_routes

websocket_urlpatterns = [
    *system_routes,
    *runs_routes,
]
