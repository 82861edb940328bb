"""Repository functions, one module per aggregate. Each takes the workspace's team id and
filters by it, so no caller can read or change another workspace's rows by passing an id
it guessed (the reaper's cross-workspace scan in ``runs`` says why it is the exception).

Import the module you need (``from storage.repos import agents as agent_repo``). The names
re-exported below serve callers not yet moved to the per-aggregate modules.
"""

from storage.repos.agents import (
                                  agent_list_rows,
                                  create_agent,
                                  delete_agent,
                                  get_agent,
                                  get_agent_by_name,
                                  list_agents,
                                  pipelines_using_agent,
                                  update_agent,
)
from storage.repos.artifacts import (
                                  ARTIFACT_LIST_COLUMNS,
                                  SEARCH_TIMEOUT_MS,
                                  SEARCH_WALK_ROWS,
                                  SearchTooBroad,
                                  artifact_content_unscoped,
                                  get_artifact,
                                  get_artifact_for_run,
                                  insert_for_run,
                                  latest_artifacts,
                                  search_artifacts,
)
from storage.repos.credentials import credential_hints, delete_credential, get_credential, set_credential
from storage.repos.pipelines import (
                                  create_pipeline,
                                  delete_pipeline,
                                  get_pipeline,
                                  get_pipeline_by_name,
                                  list_pipelines,
                                  update_pipeline,
)
from storage.repos.runs import add_run_step, create_run, get_run, get_run_by_dedupe_key, latest_runs, stale_running_runs
from storage.repos.workspaces import ensure_workspace

__all__ = [
    "ARTIFACT_LIST_COLUMNS", "SEARCH_TIMEOUT_MS", "SEARCH_WALK_ROWS", "SearchTooBroad", "add_run_step", "agent_list_rows",
    "artifact_content_unscoped", "create_agent", "create_pipeline", "create_run", "credential_hints",
    "delete_agent", "delete_credential", "delete_pipeline", "ensure_workspace", "get_agent", "get_agent_by_name",
    "get_artifact", "get_artifact_for_run", "get_credential", "get_pipeline", "get_pipeline_by_name", "get_run",
    "get_run_by_dedupe_key", "insert_for_run", "latest_artifacts", "latest_runs", "list_agents", "list_pipelines",
    "pipelines_using_agent", "search_artifacts", "set_credential", "stale_running_runs", "update_agent",
    "update_pipeline",
]
