"""Evals: scenarios as data (``evals/scenarios/*.yaml``) and the runner behind ``copilot eval``.

Nothing heavy is imported here; ``evals.runner`` loads the copilot when it runs.
"""
