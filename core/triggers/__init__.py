"""Pipelines that run on a reaction, a new message or a webhook (DESIGN §13): the rules of
making and changing a trigger (store.py) and its texts (texts.py). The surfaces that receive
the events (Slack's event listeners, the web's /hooks route) start the runs."""
