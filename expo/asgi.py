"""ASGI entry point for running under any server: ``uvicorn expo.asgi:app``.

Settings come from ``config.toml`` in the working directory (or ``EXPO_CONFIG``) and ``EXPO_*``.
"""

from __future__ import annotations

import os

from expo.app import create_app
from expo.config import load_settings
from expo.logs import configure_logging

settings = load_settings(os.environ.get("EXPO_CONFIG"))
configure_logging(settings.log_level, settings.log_format)
app = create_app(settings)
