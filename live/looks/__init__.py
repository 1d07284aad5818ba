"""The look library: named shader chains with their parameters (``catalog``), switching on
the bar line (``switcher``, pure), and the looks on screen (``stage``, GL)."""
