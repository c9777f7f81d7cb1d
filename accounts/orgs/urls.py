"""Organisation pages: settings, members, invitations, activity, the switcher."""

from django.urls import path

from accounts.orgs import views

urlpatterns = [
    path("organisation/", views.org_settings, name="org-settings"),
    path("organisation/delete/", views.org_delete_view, name="org-delete"),
    path("organisation/second-factor/", views.org_mfa, name="org-mfa"),
    path("organisations/new/", views.org_create_view, name="org-create"),
    path("organisation/switch/", views.org_switch, name="org-switch"),
    path("organisation/leave/", views.member_leave_view, name="org-leave"),
    path("organisation/members/", views.members, name="org-members"),
    path("organisation/members/<int:pk>/role/", views.member_role, name="org-member-role"),
    path(
        "organisation/members/<int:pk>/remove/", views.member_remove_view, name="org-member-remove"
    ),
    path("organisation/invitations/", views.invite, name="org-invite"),
    path(
        "organisation/invitations/<int:pk>/resend/",
        views.invitation_resend_view,
        name="org-invitation-resend",
    ),
    path(
        "organisation/invitations/<int:pk>/revoke/",
        views.invitation_revoke_view,
        name="org-invitation-revoke",
    ),
    path("organisation/activity/", views.activity, name="org-activity"),
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation-accept"),
]
