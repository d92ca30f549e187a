"""The surfaces people meet: each parses, authenticates, calls ``CopilotService`` and
renders. None touches the door, the store or the agent (``tests/unit/test_layers.py``)."""
