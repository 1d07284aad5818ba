"""live.control: the parameter table, the control state, OSC in/out, tap tempo, presets.

Light to import: ``OscServer``/``OscOut`` (python-osc) load on first use.
"""
from live.control.params import PARAMS, BY_NAME, BY_ADDRESS, Param, ControlError, listing, markdown_table
from live.control.state import (ControlState, ControlStore, initial_values, presets_toml,
                                renderer_controls, validate_presets)
from live.control.tap import TapTempo

__all__ = ["PARAMS", "BY_NAME", "BY_ADDRESS", "Param", "ControlError", "listing", "markdown_table",
           "ControlState", "ControlStore", "initial_values", "presets_toml", "renderer_controls",
           "validate_presets", "TapTempo", "OscServer", "OscOut", "OscStats", "build_dispatcher"]


def __getattr__(name):
    if name in ("OscServer", "OscOut", "OscStats", "build_dispatcher"):
        from live.control import osc
        return getattr(osc, name)
    raise AttributeError(f"module 'live.control' has no attribute {name!r}")
