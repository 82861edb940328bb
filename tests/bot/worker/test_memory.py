"""The worker asks glibc to return big buffers when freed (bot/worker/memory.py)."""

from __future__ import annotations

import platform

from bot.worker.memory import return_big_buffers


def test_big_buffers_are_mapped_on_their_own_where_glibc_runs() -> None:
    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert return_big_buffers() is expected
