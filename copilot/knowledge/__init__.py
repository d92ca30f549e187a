"""Knowledge: runbooks (parsed, chunked, embedded offline, retrieved) for the agent."""
