"""Leading: publish every FeatureFrame, the walk and the controls to the followers.

``Leader("239.255.76.76:9100")`` sends to a multicast group: followers on the LAN join it
(``--follow 239.255.76.76:9100``), nothing to configure. ``Leader("0.0.0.0:9100")`` (any address that is not a group) is unicast, for
networks that do not carry multicast: it listens on that port for ``/ll/hello``
subscriptions (``--follow LEADERHOST:9100``) and sends each follower a copy of every
message until it has been silent for ``SUBSCRIPTION_S``.

Sending never blocks: the socket is non-blocking, a full buffer or an unreachable follower is
counted in :attr:`errors`, never raised to the analysis thread that calls :meth:`features`.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any, Callable, Mapping, Optional

from live.net.protocol import (DEFAULT_PORT, SUBSCRIPTION_S, Hello, ProtocolError, decode, encode_controls,
                               encode_features, encode_walk, is_multicast, parse_address)
from live.types import FeatureFrame, GenControl

log = logging.getLogger("live.net")

CONTROLS_EVERY_S = 1.0


class Leader:
    """The publishing side of lead/follow (module docstring)."""

    def __init__(self, address: str = "", *, ttl: int = 1, session: Optional[int] = None,
                 clock: Callable[[], float] = time.monotonic,
                 drop: Optional[Callable[[bytes], bool]] = None):
        host, port = parse_address(address or f":{DEFAULT_PORT}", any_port=True)
        self.group = (host, port) if is_multicast(host) else None
        self.port = port
        self.session = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF if session is None else int(session)
        self.seq = 0
        self.sent = 0
        self.errors = 0
        self.clock = clock
        self.drop = drop                           # tests: simulate loss on the way out
        self.subscribers: dict[tuple, float] = {}  # (ip, port) -> last hello (clock)
        self._lock = threading.Lock()
        self._controls_version = -1
        self._controls_at = -1e9
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.group is None:
                sock.bind(("" if host in ("", "0.0.0.0") else host, port))
            else:
                sock.bind(("", 0))
            if self.group is not None:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, int(ttl))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot lead on {address or DEFAULT_PORT}: {exc}; pick another port with --lead HOST:PORT") \
                from None
        sock.setblocking(False)
        self.sock = sock
        self._stop = threading.Event()
        self._rx = threading.Thread(target=self._hellos, name="lead-rx", daemon=True)
        self._rx.start()

    @property
    def address(self) -> tuple[str, int]:
        """Where unicast followers subscribe: (ip, port) of this leader's socket."""
        return self.sock.getsockname()

    # -- sending ------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self.drop is not None and self.drop(data):
            return
        now = self.clock()
        targets = [self.group] if self.group is not None else []
        with self._lock:
            for addr, seen in list(self.subscribers.items()):
                if now - seen > SUBSCRIPTION_S:
                    del self.subscribers[addr]
                    log.info("follower %s:%d unsubscribed (silent for %.0f s)", addr[0], addr[1], SUBSCRIPTION_S)
                else:
                    targets.append(addr)
        for addr in targets:
            try:
                self.sock.sendto(data, addr)
                self.sent += 1
            except OSError:
                self.errors += 1

    def _next(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return self.seq

    def features(self, frame: FeatureFrame) -> None:
        """Publish one analysis hop (call from the analysis thread, after the analyzer)."""
        self._send(encode_features(frame, session=self.session, seq=self._next()))

    def walk(self, ctl: GenControl) -> None:
        """Publish the generator's control (call from the generator thread)."""
        self._send(encode_walk(ctl, session=self.session, seq=self._next()))

    def controls(self, values: Mapping[str, Any], counts: Mapping[str, int], *, t: float,
                 version: Optional[int] = None) -> bool:
        """Publish the controls when ``version`` changed or a second has passed; True if sent."""
        now = self.clock()
        if version is not None and version == self._controls_version and now - self._controls_at < CONTROLS_EVERY_S:
            return False
        self._controls_version = version if version is not None else self._controls_version
        self._controls_at = now
        self._send(encode_controls(values, counts, session=self.session, seq=self._next(), t=t))
        return True

    # -- subscriptions ------------------------------------------------------------------------
    def _hellos(self) -> None:
        if self.group is not None:
            return                     # multicast: followers join the group, nobody subscribes
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    try:
                        data, addr = key.fileobj.recvfrom(2048)
                        msg = decode(data)
                    except (BlockingIOError, ProtocolError, OSError):
                        continue
                    if isinstance(msg, Hello):
                        sub = (addr[0], msg.port)
                        with self._lock:
                            if sub not in self.subscribers:
                                log.info("follower %s:%d subscribed", *sub)
                            self.subscribers[sub] = self.clock()
        finally:
            sel.close()

    def close(self) -> None:
        self._stop.set()
        self._rx.join(1.0)
        self.sock.close()

    def __enter__(self) -> "Leader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
