"""The agent: a LangGraph graph that gathers, proposes, decides, waits for approval,
executes through the core and verifies. Build it with ``build_graph(deps)``."""
