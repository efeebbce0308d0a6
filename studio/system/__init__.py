"""The System status page, its websocket, and the `serve` command (embedded mode)."""
