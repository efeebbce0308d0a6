from django.urls import path

from studio.runs.consumers import RunConsumer
from studio.runs.shared_consumer import SharedRunConsumer

websocket_urlpatterns = [
    path("ws/runs/<uuid:run_id>/", RunConsumer.as_asgi()),
    # A run seen through a read-only share link: the token is the access, not a login.
    path("ws/shared/<str:token>/", SharedRunConsumer.as_asgi()),
]
