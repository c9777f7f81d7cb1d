"""Console pages of the accounts app."""

from django.urls import path

from accounts.console.views import auth, credits, key_page, keys

urlpatterns = [
    path("signup/", auth.signup, name="signup"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("password-reset/", auth.password_reset, name="password_reset"),
    path("password-reset/sent/", auth.password_reset_done, name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth.password_reset_complete, name="password_reset_complete"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/new/", keys.key_create, name="key-create"),
    path("keys/<int:pk>/", key_page.key_detail, name="key-detail"),
    path("keys/<int:pk>/revoke/", keys.key_revoke, name="key-revoke"),
    path("keys/<int:pk>/roll/", keys.key_roll, name="key-roll"),
    path("credits/", credits.credits_page, name="credits"),
    path("credits/top-up/", credits.credits_topup, name="credits-topup"),
    path("credits/top-up/done/", credits.credits_topup_done, name="credits-topup-done"),
    path("credits/alert/", credits.credits_alert, name="credits-alert"),
    path("stripe/webhook/", credits.stripe_webhook, name="stripe-webhook"),
]
