"""What a run takes in besides its typed text (DESIGN §11): the files people shared and the
thread it was started in. Core knows them as plain values (``refs``); the surface that knows
where they live fetches them (``source``: an installed InputSource, Slack's in the worker)."""
