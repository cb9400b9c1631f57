"""The gate agent: recognises the people enrolled for its venue and forgets everyone else.

Frame sources (``sources``), the frame pipeline (``pipeline``: detect, track, quality, encode,
match, decide), the in-memory gallery with its encrypted offline cache (``gallery``, ``cache``,
``state``, ``sync``), the agent API client (``client``), events with an offline queue
(``events``), actuators (``actuators``) and the command (``cli``: ``python -m gate_agent run``).
"""
