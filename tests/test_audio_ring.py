"""RingBuffer: wraparound, drop-newest overflow counting, and an allocation-free write path."""
import tracemalloc

import numpy as np
import pytest

from live.audio import RingBuffer


def _ramp(start, n, channels=1):
    x = np.arange(start, start + n, dtype=np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def test_wraparound_keeps_order_across_the_end():
    ring = RingBuffer(10, channels=2)
    out = np.zeros((10, 2), dtype=np.float32)
    written = 0
    read = []
    for size in (7, 6, 3, 9, 2, 8):
        assert ring.write(_ramp(written, size, 2)) == size
        written += size
        n = ring.read_into(out[:size])
        read.extend(out[:n, 0].tolist())
        assert np.array_equal(out[:n, 0], out[:n, 1])
    assert read == list(range(written))
    assert ring.available == 0
    assert ring.frames_written == ring.frames_read == written
    assert ring.overflows == 0


def test_full_ring_drops_newest_and_counts():
    ring = RingBuffer(8, channels=1)
    assert ring.write(_ramp(0, 6)) == 6
    assert ring.write(_ramp(6, 5)) == 2          # only 2 fit
    assert ring.write(_ramp(11, 3)) == 0         # nothing fits
    assert ring.overflows == 2
    assert ring.dropped_frames == 3 + 3
    out = np.zeros((16, 1), dtype=np.float32)
    assert ring.read_into(out) == 8
    assert out[:8, 0].tolist() == list(range(8))  # oldest data kept, newest dropped
    assert ring.write(_ramp(100, 4)) == 4         # room again after reading
    assert ring.read_into(out) == 4 and out[:4, 0].tolist() == [100, 101, 102, 103]


def test_read_into_partial_and_discard():
    ring = RingBuffer(16, channels=1)
    ring.write(_ramp(0, 5))
    out = np.full((8, 1), -1.0, dtype=np.float32)
    assert ring.read_into(out) == 5
    assert out[5:, 0].tolist() == [-1.0, -1.0, -1.0]  # untouched beyond what was there
    ring.write(_ramp(5, 10))
    assert ring.discard(7) == 7
    assert ring.read_into(out[:3]) == 3 and out[:3, 0].tolist() == [12, 13, 14]
    assert ring.discard(100) == 0
    ring.write(_ramp(15, 3))
    ring.reset()
    assert ring.available == 0 and ring.frames_written == 18


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        RingBuffer(0, channels=1)
    with pytest.raises(ValueError):
        RingBuffer(16, channels=0)


def test_write_allocates_nothing_proportional_to_the_block():
    """Thousands of writes (wrapping and overflowing) leave no memory behind and never
    allocate a block-sized buffer: only the transient slice views Python needs."""
    block = np.random.default_rng(0).standard_normal((4096, 2)).astype(np.float32)  # 32 KiB
    ring = RingBuffer(44100, channels=2)
    out = np.zeros((3000, 2), dtype=np.float32)
    for _ in range(20):  # warm up
        ring.write(block)
        ring.read_into(out)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(3000):
            ring.write(block)          # the ring stays near-full: wraparound and overflow paths
            ring.discard(3000)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 1024, f"write leaked {after - before} bytes"
    assert peak - before < block.nbytes // 4, f"write allocated {peak - before} bytes at peak"
    assert ring.overflows > 0
