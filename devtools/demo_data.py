"""Demo datastores that look real: CRM profiles, orders and web events, with decoy people and sensitive columns.

Used by the demo and the tests. ``python -m devtools.demo_data URL`` seeds a database (MySQL or SQLite URL).
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
)

DEMO_PERSON = {"name": "Jane Doe", "email": "jane.doe@example.com"}
#: People who must never appear in Jane's report: one shares her name, one her email's local part.
DECOYS = [
    {"name": "Jane Doe", "email": "jane.doe@example.org"},
    {"name": "John Roe", "email": "john.roe@example.com"},
    {"name": "Ada Lovelace", "email": "ada@example.net"},
]

metadata = MetaData()
crm_users = Table(
    "crm_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, index=True),
    Column("name", String(200)),
    Column("phone", String(32)),
    Column("favorite_food", String(100)),
    Column("ssn", String(11)),
    Column("created_at", DateTime),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, index=True),
    Column("order_ref", String(20)),
    Column("product", String(200)),
    Column("amount_usd", Numeric(10, 2)),
    Column("card_last4", String(4)),
    Column("shipping_address", String(300)),
    Column("ordered_at", DateTime),
)
web_events = Table(
    "web_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, index=True),
    Column("page", String(300)),
    Column("ip_address", String(45)),
    Column("city", String(100)),
    Column("occurred_at", DateTime),
)

_FOODS = ["pizza", "sushi", "tacos", "ramen", "falafel"]
_PRODUCTS = ["Trail running shoes", "Rain jacket", "Water bottle", "Headlamp", "Wool socks"]
_PAGES = ["/", "/shoes", "/jackets", "/cart", "/checkout", "/account", "/help"]
_CITIES = ["San Francisco", "Oakland", "Sacramento", "Los Angeles", "San Diego"]


def seed(engine: Engine, *, web_events_per_person: int = 40, now: datetime | None = None, reset: bool = True) -> None:
    """(Re)create the demo tables and fill them: deterministic, so tests can assert on exact values."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None, microsecond=0)
    rng = random.Random(1798)
    if reset:
        metadata.drop_all(engine)
    metadata.create_all(engine)
    people = [DEMO_PERSON, *DECOYS]
    with engine.begin() as conn:
        for i, person in enumerate(people):
            conn.execute(
                insert(crm_users).values(
                    email=person["email"],
                    name=person["name"],
                    phone=f"+1-415-555-{1000 + i:04d}",
                    favorite_food=_FOODS[i % len(_FOODS)],
                    ssn=f"{123 + i:03d}-45-{6789 - i:04d}",
                    created_at=now - timedelta(days=400 + i),
                )
            )
            conn.execute(
                insert(orders),
                [
                    {
                        "email": person["email"],
                        "order_ref": f"ORD-{i:02d}{n:04d}",
                        "product": _PRODUCTS[(i + n) % len(_PRODUCTS)],
                        "amount_usd": f"{19.99 + 10 * n:.2f}",
                        "card_last4": f"{4242 + i:04d}",
                        "shipping_address": f"{100 + i} Market St, San Francisco, CA",
                        "ordered_at": now - timedelta(days=30 * n + i),
                    }
                    for n in range(3)
                ],
            )
            conn.execute(
                insert(web_events),
                [
                    {
                        "email": person["email"],
                        "page": rng.choice(_PAGES),
                        "ip_address": f"203.0.113.{10 + i}",
                        "city": _CITIES[i % len(_CITIES)],
                        "occurred_at": now - timedelta(hours=7 * n + i),
                    }
                    for n in range(web_events_per_person)
                ],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="SQLAlchemy URL, e.g. mysql://root@127.0.0.1/ccpa_demo or sqlite:////tmp/demo.db")
    parser.add_argument("--web-events", type=int, default=40)
    args = parser.parse_args()
    seed(create_engine(args.url), web_events_per_person=args.web_events)
    print(f"seeded demo datastores ({len(DECOYS) + 1} people)")


if __name__ == "__main__":
    main()
