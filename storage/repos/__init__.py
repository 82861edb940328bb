"""Repository functions, one module per aggregate. Each takes the workspace's team id and
filters by it, so no caller can read or change another workspace's rows by passing an id
it guessed (the reaper's cross-workspace scan in ``runs`` says why it is the exception).

Import the module you need: ``from storage.repos import agents as agent_repo``.
"""
