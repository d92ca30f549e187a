"""Evals: scenarios as data (``evals/scenarios/*.yaml``) and the runner behind ``copilot eval``.

Installed as ``copilot_evals``. Nothing heavy is imported here; ``copilot_evals.runner``
loads the copilot when it runs.
"""
