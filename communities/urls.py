from django.urls import include, path

from . import review_views, rule_views, views

app_name = "communities"

urlpatterns = [
    path("", views.community_list, name="community_list"),
    path("communities/new/", views.community_create, name="community_create"),
    path("communities/record/", views.cop_record, name="cop_record"),
    path("communities/propose/", views.kc_propose, name="kc_propose"),
    path("ladder/", views.ladder, name="ladder"),
    path("c/<slug:slug>/", views.community_detail, name="community_detail"),
    path("c/<slug:slug>/proposal/", views.proposal_decide, name="proposal_decide"),
    path("c/<slug:slug>/formalise/", views.community_formalise, name="community_formalise"),
    path("c/<slug:slug>/merge/", views.community_merge, name="community_merge"),
    path("c/<slug:slug>/stage/", views.stage_set, name="stage_set"),
    path("c/<slug:slug>/edit/", views.community_edit, name="community_edit"),
    path("c/<slug:slug>/edit/term/", review_views.community_term, name="community_term"),
    # staff
    path("c/<slug:slug>/join/", views.membership_join, name="membership_join"),
    path("c/<slug:slug>/request/", views.membership_request, name="membership_request"),
    path("c/<slug:slug>/cancel/", views.membership_cancel, name="membership_cancel"),
    path("c/<slug:slug>/accept/", views.invitation_accept, name="invitation_accept"),
    path("c/<slug:slug>/decline/", views.invitation_decline, name="invitation_decline"),
    path("c/<slug:slug>/leave/", views.membership_leave, name="membership_leave"),
    # stewards and directory admins
    path("c/<slug:slug>/manage/", views.community_manage, name="community_manage"),
    path("c/<slug:slug>/manage/decide/", views.requests_decide, name="requests_decide"),
    path("c/<slug:slug>/manage/add/", views.members_add, name="members_add"),
    path("c/<slug:slug>/manage/<int:pk>/role/", views.membership_role, name="membership_role"),
    path(
        "c/<slug:slug>/manage/<int:pk>/remove/", views.membership_remove, name="membership_remove"
    ),
    path(
        "c/<slug:slug>/manage/<int:pk>/term/",
        review_views.membership_term,
        name="membership_term",
    ),
    path(
        "c/<slug:slug>/manage/<int:pk>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "c/<slug:slug>/manage/<int:pk>/withdraw/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("c/<slug:slug>/manage/import/", views.roster_import, name="roster_import"),
    path("c/<slug:slug>/manage/rules/", rule_views.community_rules, name="community_rules"),
    path(
        "c/<slug:slug>/manage/import/<int:pk>/",
        views.roster_import_preview,
        name="roster_import_preview",
    ),
    path(
        "c/<slug:slug>/manage/import/<int:pk>/mode/",
        views.roster_import_mode,
        name="roster_import_mode",
    ),
    path("c/<slug:slug>/review/", review_views.review_detail, name="review_detail"),
    path("c/<slug:slug>/review/confirm/", review_views.review_confirm, name="review_confirm"),
    path(
        "c/<slug:slug>/review/remove/<int:pk>/",
        review_views.review_remove,
        name="review_remove",
    ),
    path("c/<slug:slug>/review/start/", review_views.review_start, name="review_start"),
    path("c/<slug:slug>/review/schedule/", review_views.review_schedule, name="review_schedule"),
    path("c/<slug:slug>/reviews/<int:pk>/", review_views.review_outcome, name="review_outcome"),
    path("dashboard/reviews/start/", review_views.reviews_start_all, name="reviews_start_all"),
    path("c/<slug:slug>/export.csv", views.roster_export, name="roster_export"),
    path("directory/export.csv", views.directory_export, name="directory_export"),
    path("directory/memberships-export/", views.memberships_export, name="memberships_export"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/emails/<int:pk>/retry/", views.email_retry, name="email_retry"),
    path("c/<slug:slug>/history/", views.community_history, name="community_history"),
    path("", include("communities.insight_urls")),
    path("purposes/", views.purpose_list, name="purpose_list"),
    path("purposes/<slug:slug>/", views.purpose_detail, name="purpose_detail"),
]
