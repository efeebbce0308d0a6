"""Parley's Django project: settings, URL and websocket routing, and the studio apps."""
