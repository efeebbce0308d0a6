"""The ASGI application: Django for HTTP, Channels consumers for websockets.

Production runs `uvicorn studio.asgi:application`; embedded mode runs the same object through
`manage.py serve`. Both run its lifespan protocol (studio/lifespan.py).
"""

import os
import sys

from django.core.asgi import get_asgi_application

from studio.env import SettingsError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

try:
    # Sets Django up (settings, apps) before anything below imports models.
    django_asgi_app = get_asgi_application()
except SettingsError as exc:
    print(exc.start_failure_line(), file=sys.stderr)
    sys.exit(2)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from studio.lifespan import lifespan_app  # noqa: E402
from studio.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "lifespan": lifespan_app,
    }
)
