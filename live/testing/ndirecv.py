"""A plain NDI receiver for tests and benchmarks (another application, as a media server sees us).

It talks to the NDI runtime that cyndilib's wheel bundles through ctypes, with nothing in
between: every frame ``NDIlib_recv_capture_v3`` returns is kept (cyndilib's own Receiver also
creates a frame-sync that takes frames from the same queue, which loses frames for a counting
test). The source is found by ``extra_ips`` (``127.0.0.1``: the sender's discovery service on
port 5960), not by mDNS/avahi, so it works inside a private network namespace.

Run as a process, the way another application would be::

    python -m live.testing.ndirecv --source NAME --frames 60 [--stall-after 10 --stall-s 2]

It prints one JSON object: per frame the receive time (``time.monotonic``), the sender's
per-frame metadata (our sink puts the frame number and its show time there), the size and
the mean colour of a few patches. Never imported by runtime code.
"""
from __future__ import annotations

import argparse
import ctypes as C
import json
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

FRAME_NONE, FRAME_VIDEO, FRAME_ERROR = 0, 1, 4
COLOR_RGBX_RGBA = 2
BANDWIDTH_HIGHEST = 100


class Source(C.Structure):
    _fields_ = [("p_ndi_name", C.c_char_p), ("p_url_address", C.c_char_p)]


class FindCreate(C.Structure):
    _fields_ = [("show_local_sources", C.c_bool), ("p_groups", C.c_char_p), ("p_extra_ips", C.c_char_p)]


class RecvCreate(C.Structure):
    _fields_ = [("source_to_connect_to", Source), ("color_format", C.c_int), ("bandwidth", C.c_int),
                ("allow_video_fields", C.c_bool), ("p_ndi_recv_name", C.c_char_p)]


class VideoFrame(C.Structure):
    _fields_ = [("xres", C.c_int), ("yres", C.c_int), ("FourCC", C.c_int), ("frame_rate_N", C.c_int),
                ("frame_rate_D", C.c_int), ("picture_aspect_ratio", C.c_float),
                ("frame_format_type", C.c_int), ("timecode", C.c_int64),
                ("p_data", C.POINTER(C.c_uint8)), ("line_stride_in_bytes", C.c_int),
                ("p_metadata", C.c_char_p), ("timestamp", C.c_int64)]


def library_path() -> Path:
    """The NDI runtime bundled in cyndilib's wheel."""
    import cyndilib
    root = Path(cyndilib.__file__).parent
    for cand in [root / "wrapper" / "bin" / "x86_64-linux-gnu" / "libndi.so",
                 *sorted((root.parent / "cyndilib.libs").glob("libndi*.so*"))]:
        if cand.exists():
            return cand
    raise RuntimeError(f"no NDI runtime found in {root}")


def load():
    lib = C.CDLL(str(library_path()))
    lib.NDIlib_initialize.restype = C.c_bool
    lib.NDIlib_find_create_v2.restype = C.c_void_p
    lib.NDIlib_find_create_v2.argtypes = [C.POINTER(FindCreate)]
    lib.NDIlib_find_wait_for_sources.restype = C.c_bool
    lib.NDIlib_find_wait_for_sources.argtypes = [C.c_void_p, C.c_uint32]
    lib.NDIlib_find_get_current_sources.restype = C.POINTER(Source)
    lib.NDIlib_find_get_current_sources.argtypes = [C.c_void_p, C.POINTER(C.c_uint32)]
    lib.NDIlib_find_destroy.argtypes = [C.c_void_p]
    lib.NDIlib_recv_create_v3.restype = C.c_void_p
    lib.NDIlib_recv_create_v3.argtypes = [C.POINTER(RecvCreate)]
    lib.NDIlib_recv_capture_v3.restype = C.c_int
    lib.NDIlib_recv_capture_v3.argtypes = [C.c_void_p, C.POINTER(VideoFrame), C.c_void_p, C.c_void_p, C.c_uint32]
    lib.NDIlib_recv_free_video_v2.argtypes = [C.c_void_p, C.POINTER(VideoFrame)]
    lib.NDIlib_recv_destroy.argtypes = [C.c_void_p]
    if not lib.NDIlib_initialize():
        raise RuntimeError("the NDI runtime did not initialise (CPU not supported?)")
    return lib


def find(lib, fragment: str, *, extra_ips: str = "127.0.0.1",
         timeout_s: float = 10.0) -> Optional[tuple[str, str]]:
    """``(full name, address)`` of the first source whose name contains ``fragment``."""
    fc = FindCreate(True, None, extra_ips.encode())
    finder = lib.NDIlib_find_create_v2(C.byref(fc))
    try:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            lib.NDIlib_find_wait_for_sources(finder, 200)
            n = C.c_uint32(0)
            srcs = lib.NDIlib_find_get_current_sources(finder, C.byref(n))
            for i in range(n.value):
                name = srcs[i].p_ndi_name.decode("utf-8", "replace")
                if fragment in name:
                    url = srcs[i].p_url_address
                    return name, (url.decode("utf-8", "replace") if url else "")
        return None
    finally:
        lib.NDIlib_find_destroy(finder)


def patches(img: np.ndarray) -> list:
    """Mean RGB of the centres of a 2 x 2 grid of quadrants (the test picture's colour blocks)."""
    h, w = img.shape[:2]
    out = []
    for qy in range(2):
        for qx in range(2):
            y0, x0 = qy * h // 2 + h // 8, qx * w // 2 + w // 8
            out.append([round(float(v), 2) for v in img[y0:y0 + h // 4, x0:x0 + w // 4, :3].mean(axis=(0, 1))])
    return out


def receive(source: str, *, frames: int, timeout_s: float = 20.0, stall_after: int = -1,
            stall_s: float = 0.0, idle_s: float = 3.0, extra_ips: str = "127.0.0.1") -> dict:
    lib = load()
    found = find(lib, source, extra_ips=extra_ips, timeout_s=min(timeout_s, 10.0))
    if found is None:
        return {"error": f"no NDI source containing {source!r} found via {extra_ips}"}
    name, url = found
    rc = RecvCreate(Source(name.encode(), url.encode() or None), COLOR_RGBX_RGBA, BANDWIDTH_HIGHEST,
                    False, b"latent-live test")
    recv = lib.NDIlib_recv_create_v3(C.byref(rc))
    out: list = []
    vf = VideoFrame()
    end = time.monotonic() + timeout_s
    last = time.monotonic()
    stalled = False
    try:
        while len(out) < frames and time.monotonic() < end and time.monotonic() - last < idle_s + stall_s:
            if not stalled and stall_after >= 0 and len(out) >= stall_after:
                stalled = True
                time.sleep(stall_s)           # a receiver that stops reading
            ft = lib.NDIlib_recv_capture_v3(recv, C.byref(vf), None, None, 100)
            if ft != FRAME_VIDEO:
                continue
            now = time.monotonic()
            last = now
            try:
                h, w, stride = vf.yres, vf.xres, vf.line_stride_in_bytes
                buf = np.ctypeslib.as_array(vf.p_data, shape=(h * stride,))
                img = buf.reshape(h, stride)[:, : w * 4].reshape(h, w, 4)
                meta = vf.p_metadata.decode("utf-8", "replace") if vf.p_metadata else ""
                out.append({"t": now, "w": w, "h": h, "meta": meta, "patches": patches(img)})
            finally:
                lib.NDIlib_recv_free_video_v2(recv, C.byref(vf))
    finally:
        lib.NDIlib_recv_destroy(recv)
    return {"source": name, "address": url, "frames": out}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="part of the NDI source name")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--stall-after", type=int, default=-1, help="stop reading after this many frames")
    ap.add_argument("--stall-s", type=float, default=0.0, help="... for this long")
    ap.add_argument("--idle-s", type=float, default=3.0, help="give up after this long without a frame")
    ap.add_argument("--out", default="", help="write the JSON here (default: stdout)")
    a = ap.parse_args(argv)
    r = receive(a.source, frames=a.frames, timeout_s=a.timeout, stall_after=a.stall_after,
                stall_s=a.stall_s, idle_s=a.idle_s)
    text = json.dumps(r)
    if a.out:
        Path(a.out).write_text(text)
    else:
        sys.stdout.write(text + "\n")
    return 0 if "error" not in r else 1


if __name__ == "__main__":
    sys.exit(main())
