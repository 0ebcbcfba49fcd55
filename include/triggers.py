"""The trigger's public class path: ``include.triggers.DecisionTrigger``.

Airflow stores this path in its ``trigger`` table for every request waiting for a decision, and a request may wait
45 days, across upgrades of this package: the path must keep importing whatever the code's layout. The trigger
lives in :mod:`include.decision.trigger`.
"""

from include.decision.trigger import DecisionTrigger, SharedPoller

__all__ = ["DecisionTrigger", "SharedPoller"]
