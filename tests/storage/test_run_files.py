"""A run's files in PostgreSQL: bytes written and read in pieces, copied for a re-run inside
the database (storage/repos/run_files.py)."""

from __future__ import annotations

import hashlib
import os

from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import run_files
from storage.repos import runs as run_repo


def _run(s, team: str):
    agent = agent_repo.create_agent(s, team, name="Reader", system_prompt="read", model="anthropic:claude-haiku-4-5")
    pipeline = pipeline_repo.create_pipeline(s, team, "Read", [agent.id])
    return run_repo.create_run(s, team, pipeline, "see the file")


def test_bytes_go_in_chunks_and_come_back_whole_and_copy_inside_the_database(ctx) -> None:
    blob = os.urandom(run_files.CHUNK_BYTES * 2 + 12345)
    with transaction(ctx.sessions) as s:
        run = _run(s, "T0FILES")
        row = run_files.add_file(s, run.id, 1, name="big.pdf", mimetype="application/pdf", kind="pdf", size=len(blob))
        writer = run_files.ChunkWriter(s, row.id)
        for i in range(0, len(blob), 70_000):  # arrives in pieces of another size than the chunks
            writer.write(blob[i : i + 70_000])
        digest = writer.close()
        run_files.mark_stored(s, row.id, size=writer.size, sha256=digest)
        source_id, file_id = run.id, row.id
        other = _run(s, "T0FILES2")
    assert digest == hashlib.sha256(blob).hexdigest()
    with transaction(ctx.sessions) as s:
        chunks = list(run_files.iter_chunks(s, file_id))
        assert len(chunks) == 3 and b"".join(chunks) == blob
        assert run_files.copy_files(s, source_id, other.id) == 1
    with transaction(ctx.sessions) as s:
        (copy,) = run_files.files_of(s, other.id)
        assert (copy.name, copy.sha256, copy.size, copy.stored_at is not None) == ("big.pdf", digest, len(blob), True)
        assert copy.id != file_id and run_files.read_bytes(s, copy.id) == blob
        assert run_files.file_at(s, other.id, 1).id == copy.id
