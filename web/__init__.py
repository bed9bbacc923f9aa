"""Templates, static assets and translation catalogs, shipped inside the installed package."""

from pathlib import Path

ROOT = Path(__file__).parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
LOCALE_DIR = ROOT / "locale"
