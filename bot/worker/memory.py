"""Large buffers go back to the system when freed, in a worker that keeps many runs in flight.

Why by hand: a run with files builds its model request (the files' base64, then the JSON the
SDK sends) as buffers of several megabytes, in many threads at once. glibc's malloc serves a
buffer of 128 KB or more with its own mmap and unmaps it on free, but after the first such
free it raises that threshold (up to 32 MB), so later buffers of a run's size come from the
per-thread heaps, which keep the memory after it is freed: a worker's memory then grows to
its worst moment and stays there. A fixed threshold (``mallopt(M_MMAP_THRESHOLD)``, which
also turns the adjustment off) keeps every big buffer mapped on its own and returned. No
library does this; it is one call, made once, and nothing happens where glibc is absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD_BYTES = 1024 * 1024  # a file chunk (storage/repos/run_files.CHUNK_BYTES) and larger


def return_big_buffers() -> bool:
    """Ask glibc to serve buffers of a megabyte or more by mmap, always; False where it cannot."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        done = bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator behaves otherwise
        return False
    log.debug("big buffers are mapped on their own: %s", done)
    return done
