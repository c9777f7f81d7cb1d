"""The console's sign-in pages: allauth's views at the URLs users know (/login/, /signup/,
/logout/, /password-reset/…) with our throttles' status codes, the email-verification resend,
and the Account security page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from allauth.account import views as allauth_views
from allauth.account.forms import LoginForm
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from accounts.signin import actions, selectors, throttles

# A refused attempt's status, from the code of the form's error.
REFUSAL_STATUS = {"throttled": 429, "unavailable": 503}


def _refusal_status(form: Form) -> int:
    for error in form.non_field_errors().as_data():
        if error.code in REFUSAL_STATUS:
            return REFUSAL_STATUS[error.code]
    return 200


def _safe_next(request: HttpRequest) -> str | None:
    """The `next` parameter when it points at this site, else None."""
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


class SafeNextMixin:
    """allauth echoes any `next` into its hidden field (and checks it only when used); ours
    carries only one that points at this site."""

    request: HttpRequest

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        if context.get("redirect_field_value") and _safe_next(self.request) is None:
            context["redirect_field_value"] = None
            context["redirect_field"] = ""
        return context


class LoginView(SafeNextMixin, allauth_views.LoginView):
    """allauth's log-in; a throttled attempt answers 429, one during a counter-store outage 503
    (accounts.signin.adapter.AccountAdapter.authenticate)."""

    http_method_names = ["get", "post"]

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = _refusal_status(form)
        return response


class SignupView(SafeNextMixin, allauth_views.SignupView):
    """allauth's sign-up; each valid form counts against its client network
    (BREACT_SIGNUP_RATE_LIMIT), as every account comes with free credits."""

    http_method_names = ["get", "post"]

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            exhausted = throttles.signups_exhausted(self.request)
        except throttles.ThrottleUnavailable:
            form.add_error(None, throttles.UNAVAILABLE)
            return self.render_to_response(self.get_context_data(form=form), status=503)
        if exhausted:
            form.add_error(
                None,
                "Too many accounts were created from your network recently. Try again later.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().form_valid(form)
        if self.request.user.is_authenticated:
            credits = settings.BREACT_SIGNUP_CREDITS
            welcome = "Welcome to BReact Console!"
            if credits > 0:
                welcome += f" {credits} free credits are on your account to try the services."
            messages.success(self.request, welcome)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["signup_credits"] = settings.BREACT_SIGNUP_CREDITS
        return context


class PasswordResetView(allauth_views.PasswordResetView):
    """allauth's view; mails to one address or from one client beyond BREACT_LOGIN_RATE_LIMIT
    are silently skipped (the page says the same either way), so it cannot flood an inbox."""

    http_method_names = ["get", "post"]

    def form_valid(self, form: Any) -> HttpResponse:
        email = throttles.normalize_email(form.cleaned_data["email"])
        try:
            counted = throttles.hits(
                self.request,
                email=email,
                account_scope=throttles.RESET_ACCOUNT,
                ip_scope=throttles.RESET_IP,
            )
        except throttles.ThrottleUnavailable:
            form.add_error(None, throttles.UNAVAILABLE)
            return self.render_to_response(self.get_context_data(form=form), status=503)
        if any(hit.over for hit in counted):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetFromKeyView(allauth_views.PasswordResetFromKeyView):
    """allauth's view; a new password also lifts the log-in lock of its account, and verifies
    its address: the link was mailed there (so accounts made with `create_api_key`, which set
    their first password this way, are verified by it too)."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        throttles.login_lock_clear(form.user.email)
        actions.email_mark_verified(user=form.user)
        return response


class LogoutView(allauth_views.LogoutView):
    """Log out by POST only (a link or an image cannot log anyone out)."""

    http_method_names = ["post"]

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        was_logged_in = self.request.user.is_authenticated
        response = super().post(*args, **kwargs)
        if was_logged_in:
            messages.info(self.request, "You are logged out.")
        return response


login = LoginView.as_view()
signup = SignupView.as_view()
logout = LogoutView.as_view()
password_reset = PasswordResetView.as_view()
password_reset_from_key = PasswordResetFromKeyView.as_view()


@require_http_methods(["GET", "POST"])
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's log-in page sends people to the console's, so staff log in through the same
    throttles and second factors (and a password guesser posting here gets nothing checked)."""
    query = {"next": next_url} if (next_url := _safe_next(request)) else {}
    target = reverse("account_login") + (f"?{urlencode(query)}" if query else "")
    return HttpResponseRedirect(target)


@require_GET
def password_reset_legacy_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """A reset link mailed before the move to allauth: its token is not valid any more, so
    the page to ask for a new one, saying why."""
    messages.warning(
        request, "This password reset link is no longer valid. Ask for a new one below."
    )
    return redirect("account_reset_password")


@never_cache
@login_required
@require_POST
def verification_resend(request: HttpRequest) -> HttpResponse:
    """Send the verification mail again (at most once per ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN
    per address), and go back to the page the user was on."""
    assert isinstance(request.user, User)
    if selectors.email_verified(user=request.user):
        messages.info(request, "Your email address is already verified.")
    elif not actions.verification_mail_send(request=request, user=request.user):
        messages.info(
            request,
            "A verification link was sent a moment ago; check your inbox (and spam folder) "
            "or try again in a few minutes.",
        )
    return HttpResponseRedirect(_safe_next(request) or reverse("account-security"))


@never_cache
@login_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    """Account security: the email's verification, two-factor authentication (authenticator
    app, recovery codes, passkeys) and the signed-in sessions."""
    assert isinstance(request.user, User)
    context = selectors.security_overview(request=request, user=request.user)
    return render(request, "accounts/security.html", context)
