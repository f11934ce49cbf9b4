"""Signed webhooks: result events pushed to the HTTPS endpoints hr_admin registers.

``registry.py`` (the endpoints' operations), ``signing.py`` (secret, CloudEvents body, Standard Webhooks
signature), ``queue.py`` (the delivery state machine in the database, with its leases) and ``worker.py``
(the task that posts, in ``perfhub serve``'s lifespan); ``addresses.py`` says where a webhook may go
(https, public addresses), at registration and before each attempt. The outbox stays the source of truth: a
delivery is made from an outbox event and names it.
"""
