"""The notices to the requester (acknowledgement, rejection, ...)."""

from __future__ import annotations

from include.mail.notices import render_rejection


def test_rejection_carries_the_reason_escaped():
    email = render_rejection(name="Jane", request_id="r1", reason="photo ID <b>does not match</b>")
    assert "photo ID &lt;b&gt;does not match&lt;/b&gt;" in email.html


def test_7061_the_account_channel_notice_carries_the_link_and_no_data():
    from include.mail.notices import render_account_delivery

    email = render_account_delivery(name="Jane <b>", request_id="r1", url="https://shop.example/m?a=1&b=2")
    assert 'href="https://shop.example/m?a=1&amp;b=2"' in email.html
    assert "Jane &lt;b&gt;" in email.html and "none of your personal information" in email.html
