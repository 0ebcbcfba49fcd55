"""The law's numbers and rule constants, each with its citation: nothing else in the project hard-codes them.

Cal. Civ. Code §1798.100 ff. ("Civ.") and the CCPA Regulations, 11 CCR §7000 ff. ("§"). A test named after each rule
(tests/unit/test_law.py and the tests of the code that applies it) fails if one changes.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

# -- the clock (§7021) -------------------------------------------------------------------------------------------

#: §7021(b), Civ. 1798.130(a)(2): answer within 45 calendar days of receipt (verification time counts inside them).
RESPONSE_DAYS = 45
RESPONSE_PERIOD = timedelta(days=RESPONSE_DAYS)
#: §7021(b): one extension of up to 45 more days, noticed with its reason within the first 45 days.
EXTENSION_DAYS = 45
EXTENSION_PERIOD = timedelta(days=EXTENSION_DAYS)
MAX_EXTENSIONS = 1
#: §7021(b): 90 days in all with the one extension.
EXTENDED_RESPONSE_DAYS = RESPONSE_DAYS + EXTENSION_DAYS
#: §7021(a): confirm receipt within 10 business days, saying how the request will be verified and when to expect an
#: answer.
ACKNOWLEDGEMENT_BUSINESS_DAYS = 10

# -- verification (§7060-§7063) ---------------------------------------------------------------------------------

#: §7062(b): categories of personal information need a reasonable degree of certainty: at least two data points
#: given by the requester that match data the business holds.
CATEGORIES_MIN_POINTS = 2
#: §7062(c): specific pieces need a reasonably high degree of certainty: at least three matching data points ...
SPECIFIC_PIECES_MIN_POINTS = 3
#: ... together with a declaration signed by the requester under penalty of perjury.
SPECIFIC_PIECES_NEED_DECLARATION = True

# -- scope and limits (Civ. 1798.130) ----------------------------------------------------------------------------

#: Civ. 1798.130(a)(2)(B): disclosure covers at least the 12 months before receipt (calendar months) ...
LOOKBACK_MONTHS = 12
#: ... and, on request, back to 1 January 2022.
EARLIEST_LOOKBACK = datetime(2022, 1, 1, tzinfo=UTC)
#: Civ. 1798.130(b): no obligation to answer the same consumer more than twice in 12 months.
MAX_ANSWERS_IN_12_MONTHS = 2

# -- records (§7101) ---------------------------------------------------------------------------------------------

#: §7101(a): a record of every request is kept for at least 24 months.
RETENTION_MONTHS = 24

# -- the answer (§7024) ------------------------------------------------------------------------------------------

#: §7024(d): never disclosed, but the business says with particularity that it holds them.
NEVER_DISCLOSE = (
    "social security number",
    "driver's license number or other government-issued identification number",
    "financial account number",
    "health insurance or medical identification number",
    "account password",
    "security questions and answers",
    "unique biometric data",
)

#: §7024(f) asks for secure delivery; email is the channel, and Gmail and most mail servers refuse messages over
#: 25 MB. Past this size the report goes by a signed download link instead of attachments.
MAX_EMAIL_BYTES = 25 * 1024 * 1024


def due_date(received_at: datetime) -> datetime:
    """§7021(b): the answer is due ``RESPONSE_DAYS`` after receipt."""
    return received_at + RESPONSE_PERIOD


def extended_due_date(due_at: datetime) -> datetime:
    """§7021(b): the one extension moves the due date by ``EXTENSION_DAYS``."""
    return due_at + EXTENSION_PERIOD


def extension_deadline(received_at: datetime) -> datetime:
    """§7021(b): an extension must be noticed within the first ``RESPONSE_DAYS`` days."""
    return received_at + RESPONSE_PERIOD


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (31 March - 1 month = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def lookback_start(received_at: datetime, everything: bool = False) -> datetime:
    """Civ. 1798.130(a)(2)(B): the disclosure covers the ``LOOKBACK_MONTHS`` calendar months before receipt, or,
    when the requester asks for everything, back to ``EARLIEST_LOOKBACK``."""
    return EARLIEST_LOOKBACK if everything else months_before(received_at, LOOKBACK_MONTHS)
