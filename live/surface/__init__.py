"""The operator's control surface: a web page and HTTP/WebSocket API served by the show
(:mod:`live.surface.server`; the page lives in ``static/``)."""
from live.surface.server import Surface, SurfaceSources, SurfaceStats, contact_sheet_thumbs, meters, param_table

__all__ = ["Surface", "SurfaceSources", "SurfaceStats", "contact_sheet_thumbs", "meters", "param_table"]
