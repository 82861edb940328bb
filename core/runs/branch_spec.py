"""What a run from a step of an artifact (a branch) carries: stored on the run when it starts
(core/runs/branch.py), read by the executor to start at that step with what it changes, and by
the artifact writer to record the lineage. Plain data, so all three agree on one shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["BranchSpec"]


@dataclass(frozen=True)
class BranchSpec:
    """A branch of ``version`` of ``artifact_id`` from step ``from_step``.

    ``agent_id``/``agent_name``: the agent that step uses instead of the pipeline's (None: the
    pipeline's, as it is when the step starts); ``model``: the model it uses instead of its
    agent's; ``input``: the text it gets instead of the previous step's output. ``changes``
    is what differs from the source, as the artifact records it. ``original_costs``: what each
    reused step cost in the source (a decimal string, None when the price was unknown).
    """

    artifact_id: str
    version: int
    from_step: int
    agent_id: int | None = None
    agent_name: str | None = None
    model: str | None = None
    input: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    original_costs: dict[int, str | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact_id": self.artifact_id,
            "version": self.version,
            "from_step": self.from_step,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "model": self.model,
            "input": self.input,
            "changes": self.changes,
            "original_costs": {str(k): v for k, v in self.original_costs.items()},
        }

    @classmethod
    def from_json(cls, value: Any) -> BranchSpec | None:
        """The spec stored on a run; None for an ordinary run (or a value that is not a spec)."""
        if not isinstance(value, Mapping) or not value.get("artifact_id") or not value.get("from_step"):
            return None
        costs = value.get("original_costs") or {}
        return cls(
            artifact_id=str(value["artifact_id"]),
            version=int(value.get("version") or 1),
            from_step=int(value["from_step"]),
            agent_id=value.get("agent_id"),
            agent_name=value.get("agent_name"),
            model=value.get("model"),
            input=value.get("input"),
            changes=dict(value.get("changes") or {}),
            original_costs={int(k): v for k, v in costs.items()} if isinstance(costs, Mapping) else {},
        )

    def reused(self, position: int) -> bool:
        """Whether the step at ``position`` was taken over from the source (never run here):
        those before ``from_step``, but none from an approval step on (core/runs/branch.py),
        which the branch asks and runs again."""
        return position < self.from_step and (position in self.original_costs or not self.original_costs)

    def original_cost(self, position: int) -> Decimal | None:
        raw = self.original_costs.get(position)
        try:
            return None if raw is None else Decimal(raw)
        except InvalidOperation:
            return None

    def lineage(self) -> dict[str, Any]:
        """The artifact's record of where it came from (its ``branch`` key)."""
        return {
            "parent_artifact_id": self.artifact_id,
            "parent_version": self.version,
            "from_step": self.from_step,
            "changes": self.changes,
        }
