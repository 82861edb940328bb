"""Pipelines that run themselves at set times (DESIGN §13): cron and time zones (cron.py),
the rules of making and changing one (store.py), firing what is due (fire.py)."""
