"""What perfhub serves over SCIM: the User resource it can keep, its two extensions, and the capabilities.

The core User is cut down to the attributes perfhub stores, so that a client never sends a value that is
silently dropped (scim2-server then refuses unknown attributes as the RFC allows). The mapping:

=====================================  ==============================================================
SCIM                                   perfhub
=====================================  ==============================================================
``id``                                 the employee's row id, as a string
``userName`` (immutable)               the employee number (the key of imports and business systems)
``externalId``                         the id the identity provider knows them by (unique where set)
``name.formatted``                     the name (``givenName`` and ``familyName`` make it up when
                                       ``formatted`` is left out)
``name.givenName``, ``familyName``     kept as sent (a new name from GraphQL or a file clears them)
``meta.created``, ``lastModified``     when the employee was stored and last changed (any entry point)
``emails`` (the primary, else first)   the e-mail (unique where set)
``active``                             ACTIVE; ``false`` makes a leaver (their results stay)
enterprise ``employeeNumber``          the employee number again (read-only echo of ``userName``)
enterprise ``department``              the department's code
enterprise ``manager.value``           the manager's SCIM id
perfhub ``post``                       the post's code (required for a hire)
perfhub ``hireDate``                   the hire date, ``YYYY-MM-DD`` (default: today)
=====================================  ==============================================================
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    ETag,
    Extension,
    External,
    Filter,
    Mutability,
    Patch,
    Reference,
    Required,
    Resource,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models import Email as BaseEmail
from scim2_models.resources.resource import AnyExtension

ScimResource = Resource[Any]
"""A resource of whichever extensions, or none: scim2-models' own spelling (its storage interface, its filters
and search requests are bound to it, and its extension-less ``ResourceType`` derives from it), since a
resource's type parameter is its extension union, which differs per resource type."""

MAX_RESULTS = 200
"""The most Users one search answers (``count`` above it is lowered to it)."""


class Name(ComplexAttribute):
    """perfhub's name is ``formatted``; the given and family names are kept as sent, beside it."""

    formatted: str | None = None
    given_name: str | None = None
    family_name: str | None = None


class Email(ComplexAttribute):
    """perfhub keeps one e-mail, the work one: ``type`` and ``primary`` are answered ``work`` and true.

    ``type`` is declared so that the path Microsoft Entra patches, ``emails[type eq "work"].value``, resolves.
    """

    value: Annotated[str | None, Required.true] = None
    type: BaseEmail.Type | None = None
    primary: bool | None = None


class User(Resource[AnyExtension]):
    """The core User schema, as far as perfhub stores it."""

    __schema__ = URN("urn:ietf:params:scim:schemas:core:2.0:User")

    user_name: Annotated[str | None, Uniqueness.server, Required.true, Mutability.immutable] = None
    """The employee number: it keys imports and business systems, so it never changes."""

    name: Name | None = None
    Name: ClassVar[type[ComplexAttribute]] = Name

    active: bool | None = None
    """False for a leaver; a leaver is never made active again (hire them anew)."""

    emails: list[Email] | None = None
    Emails: ClassVar[type[ComplexAttribute]] = Email


class Manager(ComplexAttribute):
    """The manager by their SCIM id: what identity providers send (``$ref`` and ``displayName`` are not kept)."""

    value: Annotated[str | None, Required.true, CaseExact.true] = None


class EnterpriseUser(Extension):
    """The enterprise extension (RFC 7643 §4.3), as far as perfhub stores it."""

    __schema__ = URN("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")

    employee_number: Annotated[str | None, Mutability.read_only] = None
    """The employee number, as ``userName`` sets it."""

    department: str | None = None
    """The department's code; on a hire, the post's department when left out."""

    manager: Manager | None = None
    """The manager, by their SCIM id (``value``)."""


class PerfhubUser(Extension):
    """What a hire needs beyond the standard schemas: the post, and the first day."""

    __schema__ = URN("urn:perfhub:params:scim:schemas:extension:perfhub:2.0:User")

    post: str | None = None
    """The post's code. Required to hire; a new code later is a transfer from today."""

    hire_date: str | None = None
    """The hire date, YYYY-MM-DD; today when a hire leaves it out."""


class GroupMember(ComplexAttribute):
    """An active employee of the department, by their SCIM id."""

    value: Annotated[str | None, Mutability.read_only, CaseExact.true] = None
    display: Annotated[str | None, Mutability.read_only] = None
    type: Annotated[str | None, Mutability.read_only] = None


class Group(ScimResource):
    """A department, read-only: departments are managed by file or mutation (``perfhub import-org``,
    ``departmentCreate``), not by identity providers. ``externalId`` is the department's code."""

    __schema__ = URN("urn:ietf:params:scim:schemas:core:2.0:Group")

    display_name: Annotated[str | None, Required.true, Mutability.read_only] = None
    members: Annotated[list[GroupMember] | None, Mutability.read_only] = None
    Members: ClassVar[type[ComplexAttribute]] = GroupMember


BEARER = AuthenticationScheme(
    type=AuthenticationScheme.Type.oauthbearertoken,
    name="perfhub bearer token",
    description="A perfhub token with the scim role (perfhub token --role scim), or an hr_admin token.",
    spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc6750"),
    primary=True,
)

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[BEARER],
)
"""The capabilities announced: PATCH, filters, ETags; no bulk (a bulk request is not all-or-nothing in SCIM,
and the organisation's rules are checked change by change), no sorting, no passwords (perfhub keeps none)."""


POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
"""What perfhub tolerates of identity providers: attributes it does not keep (``title``, ``phoneNumbers``, ...)
are dropped rather than refused, since Entra and Okta send their whole mapping; and Entra's PATCH habits (a
``remove`` whose value selects, a filtered path that creates its entry) are applied."""


def provider() -> ScimProvider:
    """The SCIM service perfhub serves: Users with the enterprise and perfhub extensions; Groups (departments)."""
    users = ResourceType.from_resource(User[EnterpriseUser | PerfhubUser])
    departments = ResourceType.from_resource(Group).model_copy(
        update={"description": "The departments, read-only: their members are the active employees."}
    )
    return ScimProvider(
        models=[User, EnterpriseUser, PerfhubUser, Group],
        resource_types=[users, departments],
        config=CONFIG,
        policy=POLICY,
    )


UserResource = User[EnterpriseUser | PerfhubUser]
"""A User as perfhub reads and writes it."""
