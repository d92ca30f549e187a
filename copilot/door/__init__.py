"""The one door every tool call goes through: propose, approve, preflight, execute, record.

``transition`` owns the approval's state machine; ``DoorDeps`` is what every step uses."""

from copilot.door.deps import DoorDeps
from copilot.door.door import Door

__all__ = ["Door", "DoorDeps"]
