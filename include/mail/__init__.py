"""Email to the requester: the MIME message, sending it exactly once, the notices (acknowledgement, ...)."""
