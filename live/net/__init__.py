"""Lead/follow: one node's ears drive many render nodes (``--lead`` / ``--follow``), and the
geometry of a video wall (``--wall COLSxROWS --tile N``).

The wire format is OSC over UDP (:mod:`live.net.protocol`); :class:`Leader` publishes,
:class:`FollowWorker` receives and stands in for the analysis thread, :class:`FollowState`
is its pure core.
"""
from live.net.follow import FollowState, FollowStats, FollowWorker
from live.net.lead import Leader
from live.net.protocol import DEFAULT_GROUP, DEFAULT_PORT, ProtocolError, decode

__all__ = ["DEFAULT_GROUP", "DEFAULT_PORT", "FollowState", "FollowStats", "FollowWorker", "Leader",
           "ProtocolError", "decode"]
