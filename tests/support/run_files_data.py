"""Runs that took in files and a thread, stored as a run stores them (real PostgreSQL): the
files' rows and their bytes in chunks (storage/repos/run_files), and an artifact whose content
lists them (``files``, ``thread``, each step's ``files`` / ``text_extracted_from``)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from storage.repos.run_files import ChunkWriter, add_file, mark_stored
from tests.support.viewer_data import content

#: The smallest PNG there is (1×1, transparent): real image bytes for the <img> tests.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


@dataclass(frozen=True)
class SharedFile:
    """A file as shared in Slack: its name, Slack's media type, our kind and its bytes.
    ``stored=False`` leaves it described but never downloaded (no bytes, no ``stored_at``)."""

    name: str
    mimetype: str
    kind: str
    data: bytes
    pages: int | None = None
    extracted_text: str | None = None
    stored: bool = True

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def file_record(position: int, f: SharedFile) -> dict[str, Any]:
    """The artifact's record of one file, as the run writes it (core/runs/artifact.FileRecord)."""
    return {
        "position": position,
        "name": f.name,
        "mimetype": f.mimetype,
        "kind": f.kind,
        "size": len(f.data),
        "sha256": f.sha256,
        "text_extracted": f.extracted_text is not None,
        "pages": f.pages,
    }


def thread_record(messages: list[tuple[str, str, list[str]]], left_out: int = 0) -> dict[str, Any]:
    """The thread context step 1 read: (author, text, file names) oldest first."""
    return {
        "channel_id": "C1",
        "thread_ts": "1700000000.000100",
        "messages": [
            {"author": a, "text": t, "ts": f"17000000{i:02d}.000100", "file_names": names}
            for i, (a, t, names) in enumerate(messages)
        ],
        "left_out": left_out,
    }


def run_with_files(
    ctx: Any,
    team: str,
    files: list[SharedFile],
    *,
    channel_id: str | None = None,
    thread: dict[str, Any] | None = None,
    outputs: tuple[str, ...] = ("draft", "the output"),
) -> tuple[str, uuid.UUID]:
    """A finished run of ``team`` that took in ``files`` (bytes stored in chunks), and its
    artifact listing them; step 1 got every file. Returns (artifact id, run id)."""
    body = content(list(outputs))
    body["files"] = [file_record(i, f) for i, f in enumerate(files, start=1)]
    body["steps"][0]["files"] = [f.name for f in files]
    body["steps"][0]["text_extracted_from"] = [f.name for f in files if f.extracted_text is not None]
    if thread is not None:
        body["thread"] = thread
    with transaction(ctx.sessions) as s:
        agent = agent_repo.create_agent(
            s, team, name=f"Reader {uuid.uuid4().hex[:6]}", system_prompt="", model="anthropic:claude-haiku-4-5"
        )
        pipeline = pipeline_repo.create_pipeline(s, team, f"Digest {uuid.uuid4().hex[:6]}", [agent.id])
        run = run_repo.create_run(s, team, pipeline, "the input", requested_by="U1", channel_id=channel_id)
        for position, f in enumerate(files, start=1):
            row = add_file(
                s,
                run.id,
                position,
                slack_file_id=f"F{position:08d}",
                name=f.name,
                mimetype=f.mimetype,
                kind=f.kind,
                size=len(f.data),
                url=f"https://files.slack.com/files-pri/T1-F{position:08d}/x",
            )
            if not f.stored:
                continue
            writer = ChunkWriter(s, row.id)
            for start in range(0, len(f.data), 300_000):  # arrives in pieces, as a download does
                writer.write(f.data[start : start + 300_000])
            sha = writer.close()
            mark_stored(s, row.id, size=writer.size, sha256=sha, extracted_text=f.extracted_text, pages=f.pages)
        aid = artifact_repo.insert_for_run(s, team, run, body, models=list(body["models"]), cost_usd=None)
        return str(aid), run.id
