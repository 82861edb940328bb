"""Which files a run takes, decided from Slack's description before anything is fetched; a
refused file refuses the run with nothing recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import RefusalKind, RunRejected
from core.inputs.rules import FileKind, files_problem, kind_of
from core.runs.intake import start_run
from core.settings import load_settings
from storage.db import transaction
from storage.models import Run, RunFile
from tests.support.inputs import file_ref
from tests.support.runs import HAIKU, make_agent, make_pipeline, with_keys

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "mimetype", "filetype", "kind"),
    [
        ("shot.png", "image/png", "png", FileKind.IMAGE),
        ("photo.JPG", "image/jpeg", "jpg", FileKind.IMAGE),
        ("anim.gif", "", "", FileKind.IMAGE),
        ("pic.webp", "application/octet-stream", "", FileKind.IMAGE),
        ("report.pdf", "application/pdf", "pdf", FileKind.PDF),
        ("notes.md", "text/markdown", "markdown", FileKind.TEXT),
        ("data.csv", "text/csv", "csv", FileKind.TEXT),
        ("export.csv", "application/vnd.ms-excel", "csv", FileKind.TEXT),  # Windows' label for CSV
        ("conf.yaml", "application/x-yaml", "yaml", FileKind.TEXT),
        ("main.py", "text/x-python", "python", FileKind.TEXT),
        ("lib.rs", "", "rust", FileKind.TEXT),
        ("Untitled", "text/plain", "text", FileKind.TEXT),  # a Slack snippet
        ("setup.exe", "application/x-msdownload", "binary", None),
        ("logo.svg", "image/svg+xml", "svg", None),
        ("phone.heic", "image/heic", "heic", None),
        ("deck.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx", None),
        ("evil.png", "application/x-msdownload", "binary", None),  # a specific mimetype outweighs the name
        ("song.mp3", "audio/mpeg", "mp3", None),
    ],
)
def test_a_files_kind_comes_from_its_mimetype_slacks_filetype_and_its_extension(name, mimetype, filetype, kind):
    assert kind_of(file_ref("F1", name, b"x", mimetype, filetype=filetype)) == kind


@pytest.fixture
def limits():
    return load_settings(_env_file=None, DATABASE_URL="postgresql://x/y", REDIS_URL="redis://x")


def test_the_eleventh_file_is_refused_naming_the_limit(limits):
    refs = [file_ref(f"F{i}", f"page{i}.png", b"x", "image/png") for i in range(1, 12)]
    problem = files_problem(refs, limits)
    assert problem is not None and "11 files" in problem and "at most 10" in problem and "page11.png" in problem
    assert files_problem(refs[:10], limits) is None


def test_a_60_mb_file_is_refused_naming_it_and_the_limit(limits):
    problem = files_problem([file_ref("F1", "huge.pdf", None, "application/pdf", size=60 * MB)], limits)
    assert problem == "huge.pdf is 60.0 MB; pipebot takes files up to 20 MB each."


def test_files_over_the_run_total_and_of_unknown_size_are_refused(limits):
    three = [file_ref(f"F{i}", f"part{i}.pdf", None, "application/pdf", size=18 * MB) for i in range(3)]
    total = files_problem(three, limits)
    assert total is not None and "54.0 MB together" in total and "50 MB" in total
    unknown = files_problem([file_ref("F9", "stub", None, size=None)], limits)
    assert unknown is not None and "how large stub is" in unknown


def test_an_exe_is_refused_naming_its_type(limits):
    problem = files_problem([file_ref("F1", "setup.exe", b"MZ", "application/x-msdownload")], limits)
    assert problem == (
        "pipebot can't read setup.exe (application/x-msdownload); "
        "it takes images (PNG, JPEG, GIF, WebP), PDFs and text files."
    )


def _counts(ctx) -> tuple[int, int]:
    with transaction(ctx.sessions) as s:
        return s.scalar(select(func.count()).select_from(Run)), s.scalar(select(func.count()).select_from(RunFile))


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ([file_ref(f"F{i}", f"f{i}.txt", b"x", "text/plain") for i in range(11)], "at most 10"),
        ([file_ref("F1", "big.png", None, "image/png", size=60 * MB)], "big.png is 60.0 MB"),
        (
            [
                file_ref("F1", "a.txt", b"x", "text/plain"),
                file_ref("F2", "setup.exe", b"MZ", "application/x-msdownload"),
            ],
            "can't read setup.exe",
        ),
    ],
)
def test_intake_refuses_a_request_with_a_bad_file_and_records_nothing(ctx, files, said):
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "A", HAIKU)])
    with pytest.raises(RunRejected) as refused:
        start_run(ctx, "T1", "P", "look at these", files=tuple(files))
    assert refused.value.kind == RefusalKind.BAD_INPUT and said in refused.value.message
    assert _counts(ctx) == (0, 0)
    assert ctx.redis.keys("pipebot:run-request:*") == []


def test_a_request_of_files_alone_needs_no_text_and_records_each_file(ctx):
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "A", HAIKU)])
    files = (file_ref("F1", "chart.webp", b"RIFF", "", filetype="webp"), file_ref("F2", "a.csv", b"a,b", "text/csv"))
    run = start_run(ctx, "T1", "P", "", files=files)
    with transaction(ctx.sessions) as s:
        rows = s.scalars(select(RunFile).where(RunFile.run_id == run.id).order_by(RunFile.position)).all()
        got = [(r.position, r.slack_file_id, r.name, r.kind, r.mimetype, r.size, r.stored_at) for r in rows]
    assert got == [
        (1, "F1", "chart.webp", "image", "image/webp", 4, None),
        (2, "F2", "a.csv", "text", "text/csv", 3, None),
    ]
    with pytest.raises(RunRejected) as empty:
        start_run(ctx, "T1", "P", "  ")
    assert empty.value.kind == RefusalKind.BAD_INPUT


def test_files_over_anthropics_request_size_are_refused_for_a_claude_step_but_not_for_openai(ctx):
    """Anthropic takes 32 MB a request, base64 included (NOTES §5): 2 PDFs of 12 MB are
    within every file limit but would be refused by the API, so the run is refused first."""
    with_keys(ctx, "T1", "anthropic")
    with_keys(ctx, "T1", "openai")
    make_pipeline(ctx, "T1", "Claude", [make_agent(ctx, "T1", "Reader", HAIKU)])
    make_pipeline(ctx, "T1", "GPT", [make_agent(ctx, "T1", "Other", "openai:gpt-6.2-sol")])
    files = tuple(file_ref(f"F{i}", f"part{i}.pdf", None, "application/pdf", size=12 * MB) for i in (1, 2))
    with pytest.raises(RunRejected) as refused:
        start_run(ctx, "T1", "Claude", "read both", files=files)
    assert refused.value.kind == "unsupported_file"
    assert "Step 1 (Reader)" in refused.value.message and "at most 32 MB" in refused.value.message
    assert _counts(ctx) == (0, 0)
    run = start_run(ctx, "T1", "GPT", "read both", files=files)
    assert run.status == "queued"
