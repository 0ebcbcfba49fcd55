"""The notices to the requester (acknowledgement, rejection, ...)."""

from __future__ import annotations

from include.mail.notices import render_rejection


def test_rejection_carries_the_reason_escaped():
    email = render_rejection(name="Jane", request_id="r1", reason="photo ID <b>does not match</b>")
    assert "photo ID &lt;b&gt;does not match&lt;/b&gt;" in email.html
