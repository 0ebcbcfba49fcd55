"""What the requester sees outside email: the request form, its receipt, the status page (served under ``/ccpa``)."""
