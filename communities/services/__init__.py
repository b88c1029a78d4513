"""Writes: the only code that changes communities, memberships and their history.

Every service is atomic and writes exactly one ``MembershipEvent`` per changed
membership. A roster service locks the community row first (so two stewards acting
at once are serialised and the invariants below hold), checks the rule it enforces,
writes the membership and its event, and queues its emails for after the commit; the
HR sync writes in batches. A refused change raises a
``ServiceError`` (``MembershipError`` for a roster rule, ``CommunityError`` for a
community rule) whose message says why, and changes nothing.

The state machine (states down, services across), for a knowledge community:

    (none)/left/denied   join (open) -> active; request (request) -> requested
    removed              request (request) -> requested      (no self-join)
    any but active       invite -> invited; add -> active
    requested            approve -> active; deny -> denied; cancel -> left
    invited              accept -> active; decline -> left
    active               leave -> left; remove -> removed; change_role
    requested/invited    remove -> removed (withdraws it)

Rules: archived communities accept no joins, requests, invitations or additions;
an active KC keeps at least one active steward; at most one active sponsor.

By subject: ``membership`` (one person joining, leaving, curated by stewards),
``bulk`` (adding lists, roster imports), ``communities`` (creating KCs, purposes),
``botkin`` (CoPs, proposals, formalising, stages), ``merging`` (duplicates: a plan to
preview, then the same plan applied), ``people`` (the HR sync).
"""

from ._common import CommunityError, MembershipError, ServiceError
from .botkin import (
    approve_proposal,
    decline_proposal,
    formalise_cop,
    propose_formalisation,
    propose_kc,
    record_cop,
    set_stage,
)
from .bulk import BulkResult, add_members, apply_roster_import, preview_roster_import
from .communities import (
    CommunityNameTaken,
    activation_problems,
    create_community,
    future_purpose,
    name_taken,
)
from .membership import (
    accept_invitation,
    approve_request,
    cancel_request,
    change_role,
    decline_invitation,
    deny_request,
    join_community,
    leave_community,
    remove_member,
    request_membership,
)
from .merging import MergeMove, MergePlan, merge_communities, merge_problem, plan_merge
from .people import (
    SyncRefused,
    apply_people_sync_upload,
    deactivation_limit,
    deactivation_refusal,
    end_memberships_of,
    file_fingerprint,
    store_people_sync_upload,
    sync_people,
)

__all__ = [
    "BulkResult",
    "CommunityError",
    "CommunityNameTaken",
    "MembershipError",
    "MergeMove",
    "MergePlan",
    "ServiceError",
    "SyncRefused",
    "accept_invitation",
    "activation_problems",
    "add_members",
    "apply_people_sync_upload",
    "apply_roster_import",
    "approve_proposal",
    "approve_request",
    "cancel_request",
    "change_role",
    "create_community",
    "deactivation_limit",
    "deactivation_refusal",
    "decline_invitation",
    "decline_proposal",
    "deny_request",
    "end_memberships_of",
    "file_fingerprint",
    "formalise_cop",
    "future_purpose",
    "join_community",
    "leave_community",
    "merge_communities",
    "merge_problem",
    "name_taken",
    "plan_merge",
    "preview_roster_import",
    "propose_formalisation",
    "propose_kc",
    "record_cop",
    "remove_member",
    "request_membership",
    "set_stage",
    "store_people_sync_upload",
    "sync_people",
]
