"""Console pages of the accounts app."""

from django.urls import path

from accounts.console.views import credits, key_page, keys

urlpatterns = [
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
