"""Provisioning by SCIM 2.0 (RFC 7643/7644): ``/scim/v2``, where an identity provider or HR system pushes
joiners, movers and leavers.

scim2-server speaks the protocol (routing, validation, filters, PATCH, ETags, discovery, error bodies);
``storage.OrganisationStorage`` reads and writes perfhub's employees through the same ``Organisation`` methods
as the GraphQL mutations and the CSV import; ``app.ScimApp`` authenticates with perfhub's bearer tokens.
"""
