"""The demo organisation that ``seed_demo`` loads (``make run`` on an empty database)."""

from .builder import DemoBuilder

__all__ = ["DemoBuilder"]
