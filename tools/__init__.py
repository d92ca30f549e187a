"""The built-in tool packs, one package each, installed as ``copilot_tools``.

Each pack's ``__init__`` declares its tools in ``TOOLS``; pyproject registers every pack as
a ``copilot.tools`` entry point, exactly as a third-party pack is registered. ``_common``
holds what the packs share and is not a pack.
"""
