"""Keep personal data out of logs, including third-party libraries' debug output."""

from __future__ import annotations

import logging

#: Libraries whose DEBUG lines carry request bodies (Slack messages hold names and emails).
_BODY_LOGGERS = ("slack_sdk", "slack_bolt", "urllib3.connectionpool")


def quiet_body_loggers() -> None:
    """Set these loggers to INFO even when the root logger is at DEBUG; a level the user set on them wins."""
    for name in _BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
