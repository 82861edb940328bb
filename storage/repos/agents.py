"""Agents of a workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from storage.models import Agent, Pipeline, PipelineStep
from storage.repos.common import utcnow
from storage.repos.workspaces import ensure_workspace


def list_agents(s: Session, team_id: str) -> Sequence[Agent]:
    return s.scalars(select(Agent).where(Agent.team_id == team_id).order_by(func.lower(Agent.name))).all()


_AGENT_LIST = (
    select(Agent.id, Agent.name, Agent.model, Agent.temperature, Agent.max_output_tokens, Agent.tools)
    .where(Agent.team_id == bindparam("team_id"))
    .order_by(func.lower(Agent.name))
)


def agent_list_rows(conn: Connection, team_id: str) -> Sequence[Any]:
    """What a list of agents shows (id, name, model, temperature, max output tokens, tools), in
    list_agents' order, as plain rows: one Core statement for the slash command's ack path."""
    return conn.execute(_AGENT_LIST, {"team_id": team_id}).all()


def get_agent(s: Session, team_id: str, agent_id: int) -> Agent | None:
    return s.scalar(select(Agent).where(Agent.team_id == team_id, Agent.id == agent_id))


def get_agent_by_name(s: Session, team_id: str, name: str) -> Agent | None:
    return s.scalar(select(Agent).where(Agent.team_id == team_id, func.lower(Agent.name) == name.strip().lower()))


def create_agent(s: Session, team_id: str, **fields: Any) -> Agent:
    ensure_workspace(s, team_id)
    agent = Agent(team_id=team_id, **fields)
    s.add(agent)
    s.flush()
    return agent


def update_agent(s: Session, team_id: str, agent_id: int, **fields: Any) -> Agent | None:
    agent = get_agent(s, team_id, agent_id)
    if agent is None:
        return None
    for key, value in fields.items():
        setattr(agent, key, value)
    agent.updated_at = utcnow()
    if "name" in fields:
        s.execute(update(PipelineStep).where(PipelineStep.agent_id == agent_id).values(agent_name=fields["name"]))
    s.flush()
    return agent


def delete_agent(s: Session, team_id: str, agent_id: int) -> bool:
    """Steps keep the agent's last name, so an orphaned step can say who it was."""
    agent = get_agent(s, team_id, agent_id)
    if agent is None:
        return False
    s.execute(update(PipelineStep).where(PipelineStep.agent_id == agent_id).values(agent_name=agent.name))
    s.delete(agent)
    s.flush()
    return True


def pipelines_using_agent(s: Session, team_id: str, agent_id: int) -> Sequence[str]:
    return s.scalars(
        select(Pipeline.name)
        .join(PipelineStep)
        .where(Pipeline.team_id == team_id, PipelineStep.agent_id == agent_id)
        .distinct()
        .order_by(Pipeline.name)
    ).all()
