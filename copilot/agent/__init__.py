"""The agent: a LangGraph graph that gathers, proposes, decides, waits for approval,
executes through the door and verifies. ``build_graph()`` compiles it; its nodes get their
``AgentDeps`` as the run's context."""
