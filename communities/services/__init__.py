"""Writes: the only code that changes communities, memberships and their history.

Every service is atomic and writes exactly one ``MembershipEvent`` per change to a
membership (a lapsed invitation ends with its own event before the person joins or
asks). A roster service locks the community row first (so two stewards acting
at once are serialised and the invariants below hold), checks the rule it enforces,
writes the membership and its event, and queues its emails for after the commit; the
HR sync and ``lapse_invitations`` write in batches. A refused change raises a
``ServiceError`` (``MembershipError`` for a roster rule, ``CommunityError`` for a
community rule) whose message says why, and changes nothing.

The state machine (states down, services across), for a knowledge community:

    (none)/left/denied   join (open) -> active; request (request) -> requested
    removed              request (request) -> requested      (no self-join)
    any but active       invite -> invited; add -> active
    requested            approve -> active; deny -> denied; cancel -> left
    invited              accept -> active; decline -> left; withdraw -> removed;
                         resend -> invited (the clock starts again)
    invited, lapsed      lapse -> left (not answered within INVITATION_EXPIRY_DAYS days:
                         no longer accepted, declined or counted as an invitation)
    active               leave -> left; remove -> removed; change_role
    requested/invited    remove -> removed (withdraws it)

Rules: archived communities accept no joins, requests, invitations or additions;
an active KC keeps at least one active steward; at most one active sponsor
(``plan_role_change`` says beforehand whom appointing a sponsor replaces).

By subject: ``membership`` (one person joining, leaving, curated by stewards),
``bulk`` (adding lists, roster imports), ``communities`` (creating KCs, purposes,
editing a community's details: one ``edited`` event per changed field),
``botkin`` (CoPs, proposals, formalising, stages), ``merging`` (duplicates: a plan to
preview, then the same plan applied), ``people`` (the HR sync), ``provider`` (an identity
provider keeping a knowledge community's list, through SCIM provisioning).
"""

from ._common import CommunityError, MembershipError, ServiceError
from ._counts import recount_members
from .botkin import (
    approve_proposal,
    decline_proposal,
    formalise_cop,
    propose_formalisation,
    propose_kc,
    record_cop,
    set_stage,
)
from .bulk import (
    ROSTER_IMPORT_KEPT_FOR,
    BulkResult,
    add_members,
    apply_roster_import,
    choose_roster_import_mode,
    clear_stale_roster_imports,
    preview_roster_import,
    queue_add_members,
    queue_memberships_export,
    queue_roster_import,
)
from .communities import (
    EDITABLE_FIELDS,
    CommunityNameTaken,
    EditConflict,
    activation_problems,
    create_community,
    edit_community,
    future_purpose,
    name_taken,
    purpose_named,
)
from .membership import (
    LapseResult,
    RoleChange,
    accept_invitation,
    approve_request,
    cancel_request,
    change_role,
    decline_invitation,
    deny_request,
    join_community,
    lapse_invitations,
    leave_community,
    plan_role_change,
    remove_member,
    request_membership,
    resend_invitation,
    withdraw_invitation,
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
from .provider import (
    add_members_by_provider,
    remove_members_by_provider,
    set_membership_manager,
)
from .reviews import (
    ReviewJobsResult,
    ReviewStep,
    confirm_members,
    pending_members,
    remove_in_review,
    run_review_jobs,
    set_review_schedule,
    start_review,
    start_reviews_of_every_kc,
)
from .rules import (
    RuleOutcome,
    evaluate_rule,
    evaluate_rules_for_members,
    evaluate_rules_for_usernames,
    remove_rule,
    save_profile,
    save_rule,
)
from .terms import (
    ExpiryResult,
    expire_memberships,
    send_expiry_reminders,
    set_default_term,
    set_membership_term,
)

__all__ = [
    "RuleOutcome",
    "evaluate_rule",
    "evaluate_rules_for_members",
    "evaluate_rules_for_usernames",
    "remove_rule",
    "save_profile",
    "save_rule",
    "EDITABLE_FIELDS",
    "ROSTER_IMPORT_KEPT_FOR",
    "BulkResult",
    "CommunityError",
    "EditConflict",
    "ExpiryResult",
    "LapseResult",
    "MembershipError",
    "ReviewJobsResult",
    "ReviewStep",
    "RoleChange",
    "CommunityNameTaken",
    "MergeMove",
    "MergePlan",
    "ServiceError",
    "SyncRefused",
    "accept_invitation",
    "activation_problems",
    "add_members",
    "add_members_by_provider",
    "apply_people_sync_upload",
    "apply_roster_import",
    "queue_add_members",
    "queue_memberships_export",
    "queue_roster_import",
    "choose_roster_import_mode",
    "approve_proposal",
    "approve_request",
    "cancel_request",
    "change_role",
    "clear_stale_roster_imports",
    "create_community",
    "deactivation_limit",
    "deactivation_refusal",
    "decline_invitation",
    "decline_proposal",
    "deny_request",
    "edit_community",
    "confirm_members",
    "pending_members",
    "remove_in_review",
    "run_review_jobs",
    "set_review_schedule",
    "start_review",
    "start_reviews_of_every_kc",
    "end_memberships_of",
    "expire_memberships",
    "send_expiry_reminders",
    "set_default_term",
    "set_membership_term",
    "file_fingerprint",
    "formalise_cop",
    "future_purpose",
    "join_community",
    "lapse_invitations",
    "leave_community",
    "merge_communities",
    "plan_role_change",
    "merge_problem",
    "name_taken",
    "plan_merge",
    "preview_roster_import",
    "propose_formalisation",
    "propose_kc",
    "purpose_named",
    "recount_members",
    "record_cop",
    "remove_member",
    "remove_members_by_provider",
    "request_membership",
    "resend_invitation",
    "set_membership_manager",
    "set_stage",
    "store_people_sync_upload",
    "sync_people",
    "withdraw_invitation",
]
