"""Staff pages of the accounts app (under /staff/; breact.staff guards them at the include)."""

from django.urls import path

from accounts.staff.views import accounts as staff_accounts
from accounts.staff.views import audit as staff_audit

urlpatterns = [
    path("accounts/", staff_accounts.account_search, name="staff-accounts"),
    path("accounts/<int:pk>/", staff_accounts.account_page, name="staff-account"),
    path("accounts/<int:pk>/adjust/", staff_accounts.account_adjust, name="staff-account-adjust"),
    path("accounts/<int:pk>/status/", staff_accounts.account_status, name="staff-account-status"),
    path("keys/<int:pk>/revoke/", staff_accounts.key_revoke, name="staff-key-revoke"),
    path(
        "processes/<str:public_id>/refund/",
        staff_accounts.process_refund,
        name="staff-process-refund",
    ),
    path("audit/", staff_audit.audit_log, name="staff-audit"),
    path("audit/export.csv", staff_audit.audit_export, name="staff-audit-export"),
    path("reconciliation/", staff_audit.reconciliation, name="staff-reconciliation"),
]
