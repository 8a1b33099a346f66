"""The offline provider: the embedded default when no AI key is set, and the tests' model.

It reads a question into a Query (terms, reading, followups), calls the org's tools for it
turn by turn (planner), and words the results (compose and the modules it dispatches to),
declining plainly what StackDock cannot answer (boundaries, declining).
"""

from core.providers.offline.provider import OfflineProvider

__all__ = ["OfflineProvider"]
