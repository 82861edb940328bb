"""named states: runs may be ``waiting``; a step's status is one a step can have

The CHECK constraints on ``runs.status`` and ``run_steps.status`` are now built from the
Enums of storage/states.py (RunStatus, StepStatus). ``runs`` accepts ``waiting`` (DESIGN
§5/§12: a run paused on something outside it; nothing sets it yet). ``run_steps`` no
longer accepts ``queued``, which no step was ever given (a step is recorded as running
when it starts). The values are written out here, not read from the Enums, so this
revision means the same thing whatever the Enums become later.

The downgrade puts a ``waiting`` run back to ``queued`` (the state it waits to resume
from): every row stays.

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_BEFORE = ("queued", "running", "succeeded", "failed")
RUN_AFTER = ("queued", "running", "waiting", "succeeded", "failed")
STEP_BEFORE = RUN_BEFORE
STEP_AFTER = ("running", "succeeded", "failed")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace(table: str, values: tuple[str, ...]) -> None:
    name = op.f(f"ck_{table}_status")  # the full name: the naming convention adds nothing
    op.drop_constraint(name, table, type_="check")
    op.create_check_constraint(name, table, _in(values))


def upgrade() -> None:
    _replace("runs", RUN_AFTER)
    _replace("run_steps", STEP_AFTER)


def downgrade() -> None:
    op.execute("UPDATE runs SET status = 'queued' WHERE status = 'waiting'")
    _replace("runs", RUN_BEFORE)
    _replace("run_steps", STEP_BEFORE)
