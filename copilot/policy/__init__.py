"""Cedar policy: loading with file/line errors, entities from config, decisions."""

from copilot.policy.engine import PolicyEngine, RequestContext, load_policy_engine

__all__ = ["PolicyEngine", "RequestContext", "load_policy_engine"]
