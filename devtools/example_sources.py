"""An example Python source: newsletter events kept as JSON lines in a log bucket, where SQL cannot reach.

Enable it by listing this module in the registry (``python_sources: [devtools.example_sources]``) and setting the
Variable ``ccpa_newsletter_log`` to the log's URL (``file:///…``, ``s3://…``; connection in
``ccpa_report_storage_conn_id`` if needed). See docs/adding-a-datastore.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from include import config
from include.datastores import personal_data_source


@personal_data_source(
    "newsletter",
    description="Newsletter subscriptions and opens",
    categories={
        "event": "internet_activity",
        "list": "commercial",
        "ip_address": "identifiers",
        "at": "internet_activity",
    },
    sources=["the consumer, when subscribing"],
    purposes=["marketing"],
    # Per category (Civ. 1798.110(a)(4), 1798.115(a)): the email delivery provider sends the newsletter for us, a
    # service provider, not a third party; nothing here is sold or shared (stated so in the report).
    disclosures={
        category: {"service_providers": ["email delivery provider"], "sold_or_shared": []}
        for category in ("identifiers", "commercial", "internet_activity")
    },
)
def newsletter_events(*, email: str, name: str, since: datetime) -> Iterator[dict[str, Any]]:
    """Scan the log line by line (bounded memory) and yield this person's events since ``since``."""
    from include.storage import resolve

    log_url = config.get_variable("ccpa_newsletter_log")
    with resolve(log_url).open("r", encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if event.get("email", "").lower() == email and datetime.fromisoformat(event["at"]) >= since:
                yield {"event": event["event"], "list": event["list"], "ip_address": event.get("ip"), "at": event["at"]}
