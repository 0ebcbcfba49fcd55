"""Personal data out of logs: addresses scrubbed from SMTP failures, keeping their class and the server's code."""

from __future__ import annotations

import smtplib

from include.log_redaction import scrub_addresses, scrubbed_smtp_error


def test_addresses_are_scrubbed_from_text():
    assert scrub_addresses("550 5.1.1 <jane.doe+x@example.com>: rejected") == "550 5.1.1 <<address>>: rejected"
    assert scrub_addresses("no address here") == "no address here"


def test_smtp_errors_keep_their_class_and_code_but_not_the_address():
    refused = smtplib.SMTPRecipientsRefused({"jane@example.com": (550, b"5.1.1 <jane@example.com>: User unknown")})
    scrubbed = scrubbed_smtp_error(refused)
    assert isinstance(scrubbed, smtplib.SMTPRecipientsRefused)
    assert "jane" not in str(scrubbed) and "550" in str(scrubbed) and "User unknown" in str(scrubbed)
    sender = scrubbed_smtp_error(smtplib.SMTPSenderRefused(553, b"<p@example.com> not owned", "p@example.com"))
    assert isinstance(sender, smtplib.SMTPSenderRefused) and "p@example.com" not in str(sender.args)
    data = scrubbed_smtp_error(smtplib.SMTPDataError(554, "rejected for jane@example.com"))
    assert isinstance(data, smtplib.SMTPDataError) and data.smtp_code == 554 and "jane" not in str(data)
    assert isinstance(scrubbed_smtp_error(ConnectionRefusedError(111, "refused")), ConnectionRefusedError)
