"""Sign-in URLs: allauth's pages at the paths the console always had (/login/, /signup/,
/logout/, /password-reset/…), the rest of allauth (email verification, second factors,
sessions) under /accounts/, and the Account security page."""

from allauth.account import urls as allauth_account_urls
from allauth.account import views as allauth_views
from django.urls import URLPattern, include, path, re_path

from accounts.signin import views

# allauth's own patterns for these pages are left out: they live at the console's paths below.
MOUNTED_AT_CONSOLE_PATHS = {
    "account_login",
    "account_signup",
    "account_logout",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
}


def _allauth_rest() -> list[URLPattern]:
    return [
        pattern
        for pattern in allauth_account_urls.urlpatterns
        if getattr(pattern, "name", None) not in MOUNTED_AT_CONSOLE_PATHS
    ]


urlpatterns = [
    path("login/", views.login, name="account_login"),
    path("signup/", views.signup, name="account_signup"),
    path("logout/", views.logout, name="account_logout"),
    path("password-reset/", views.password_reset, name="account_reset_password"),
    path(
        "password-reset/sent/",
        allauth_views.password_reset_done,
        name="account_reset_password_done",
    ),
    re_path(
        r"^password-reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        views.password_reset_from_key,
        name="account_reset_password_from_key",
    ),
    path(
        "password-reset/done/",
        allauth_views.password_reset_from_key_done,
        name="account_reset_password_from_key_done",
    ),
    # Links mailed before allauth (Django's uidb64/token form): to the page to ask anew.
    path(
        "password-reset/<uidb64>/<token>/",
        views.password_reset_legacy_link,
        name="password-reset-legacy",
    ),
    path("account/security/", views.security, name="account-security"),
    path(
        "account/verification/resend/",
        views.verification_resend,
        name="account-verification-resend",
    ),
    path(
        "accounts/",
        include(
            [
                *_allauth_rest(),
                path("2fa/", include("allauth.mfa.urls")),
                path("sessions/", include("allauth.usersessions.urls")),
            ]
        ),
    ),
]
