"""Sign up, log in and out, password reset."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.console.actions import account_sign_up
from accounts.console.forms import LoginForm, PasswordResetForm, SignupForm, normalize_email
from breact import throttle
from breact.throttle import Hit, ThrottleUnavailable

LOGIN_FAILED = "Email or password is incorrect."
UNAVAILABLE = (
    "This is unavailable for a moment: a part of the server is down. Nothing was changed; "
    "try again in a minute."
)
# Throttle scopes (breact.throttle counters).
LOGIN_ACCOUNT = "login-account"  # wrong passwords for one address, from anywhere
LOGIN_IP = "login-ip"  # wrong passwords from one client network, for any address
RESET_ACCOUNT = "password-reset-account"  # reset mails to one address
RESET_IP = "password-reset-ip"  # reset mails asked for from one client network
SIGNUP_IP = "signup-ip"  # accounts created from one client network


def _safe_next(request: HttpRequest) -> str | None:
    """The `next` parameter when it points at this site, else None."""
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def _minutes(seconds: int) -> str:
    minutes = max(math.ceil(seconds / 60), 1)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _hits(request: HttpRequest, *, email: str, account_scope: str, ip_scope: str) -> list[Hit]:
    """Count this attempt for the address (BREACT_LOGIN_RATE_LIMIT) and for the client's
    network (BREACT_LOGIN_IP_RATE_LIMIT). Raises ThrottleUnavailable (counting nothing) when
    the cache is down."""
    account_hit = throttle.hit(account_scope, email, settings.BREACT_LOGIN_RATE_LIMIT)
    try:
        ip_hit = throttle.hit(
            ip_scope, throttle.client_network(request), settings.BREACT_LOGIN_IP_RATE_LIMIT
        )
    except ThrottleUnavailable:
        throttle.undo(account_hit)
        raise
    return [account_hit, ip_hit]


def _login_refusal(account_hit: Hit, ip_hit: Hit) -> str | None:
    """Why this attempt is refused before its password is checked, or None."""
    if ip_hit.over:
        # Many wrong passwords from this network, for any accounts: credential stuffing.
        # A password reset would not help here, so none is offered.
        return f"Too many failed log-ins from your network. Try again in {_minutes(ip_hit.reset)}."
    if account_hit.over:
        # A completed password reset clears this account's counter (password_reset_confirm).
        return (
            "Too many failed attempts to log in to this account. "
            f"Try again in {_minutes(account_hit.reset)}, or reset your password."
        )
    return None


def _signups_exhausted(request: HttpRequest) -> bool:
    """Count this sign-up against its client network (BREACT_SIGNUP_RATE_LIMIT); True when
    over. Raises ThrottleUnavailable when the cache is down."""
    signup = throttle.hit(
        SIGNUP_IP, throttle.client_network(request), settings.BREACT_SIGNUP_RATE_LIMIT
    )
    return signup.over


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    context = {"form": form, "signup_credits": settings.BREACT_SIGNUP_CREDITS}
    if request.method == "POST" and form.is_valid():
        try:
            exhausted = _signups_exhausted(request)
        except ThrottleUnavailable:
            form.add_error(None, UNAVAILABLE)
            return render(request, "accounts/signup.html", context, status=503)
        if exhausted:
            # Each account comes with free credits: a client network may open only so many.
            form.add_error(
                None,
                "Too many accounts were created from your network recently. Try again later.",
            )
            return render(request, "accounts/signup.html", context, status=429)
    if request.method == "POST" and form.is_valid():
        try:
            account = account_sign_up(
                email=form.cleaned_data["email"], password=form.cleaned_data["password1"]
            )
        except ValidationError as error:  # a concurrent sign-up took the address
            form.add_error(None, error)
        else:
            auth_login(request, account.owner, backend="django.contrib.auth.backends.ModelBackend")
            credits = settings.BREACT_SIGNUP_CREDITS
            welcome = "Welcome to BReact Console!"
            if credits > 0:
                welcome += f" {credits} free credits are on your account to try the services."
            messages.success(request, welcome)
            return redirect("home")
    return render(request, "accounts/signup.html", context)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Log in by email and password. Each attempt is counted at once (atomically) for the
    address (BREACT_LOGIN_RATE_LIMIT) and for the client's network (BREACT_LOGIN_IP_RATE_LIMIT,
    higher); over either, it is refused before the password is checked. Only wrong passwords
    stay counted: a right one, or a refused attempt, is given back. So one account's wrong
    passwords lock that account only, never other people logging in from the same network,
    until the network itself sends many wrong ones. Unknown address and wrong password get
    the same message."""
    if request.user.is_authenticated:
        return redirect("home")
    next_url = _safe_next(request)
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            hits = _hits(request, email=email, account_scope=LOGIN_ACCOUNT, ip_scope=LOGIN_IP)
        except ThrottleUnavailable:
            # No counter, no guessing: refuse rather than check passwords unthrottled.
            status = 503
            form.add_error(None, UNAVAILABLE)
        else:
            refusal = _login_refusal(*hits)
            user = None
            if refusal is None:
                password = form.cleaned_data["password"]
                user = authenticate(request, username=email, password=password)
            if refusal is not None or user is not None:
                for counted in hits:
                    throttle.undo(counted)  # not a wrong password
            if refusal is not None:
                status = 429
                form.add_error(None, refusal)
            elif user is None:
                form.add_error(None, LOGIN_FAILED)
            else:
                auth_login(request, user)
                return HttpResponseRedirect(next_url or reverse("home"))
    context = {"form": form, "next": next_url or ""}
    return render(request, "accounts/login.html", context, status=status)


@require_http_methods(["GET", "POST"])
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's log-in page sends people to the console's, so staff log in through the same
    throttles (and a password guesser posting here gets no password checked)."""
    query = {"next": next_url} if (next_url := _safe_next(request)) else {}
    target = reverse("login") + (f"?{urlencode(query)}" if query else "")
    return HttpResponseRedirect(target)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    was_logged_in = request.user.is_authenticated
    auth_logout(request)
    if was_logged_in:
        messages.info(request, "You are logged out.")
    return redirect("login")


class _PasswordResetView(auth_views.PasswordResetView):
    """Django's view; mails to one address or from one client beyond BREACT_LOGIN_RATE_LIMIT
    are silently skipped (the page says the same either way), so it cannot flood an inbox."""

    form_class = PasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        email = normalize_email(form.cleaned_data["email"])
        try:
            hits = _hits(self.request, email=email, account_scope=RESET_ACCOUNT, ip_scope=RESET_IP)
        except ThrottleUnavailable:
            form.add_error(None, UNAVAILABLE)
            return self.render_to_response(self.get_context_data(form=form), status=503)
        if any(counted.over for counted in hits):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class _PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's view; a new password also lifts the log-in lock of its account, as the
    locked-out message promises."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        email = normalize_email(form.user.email)
        throttle.clear(LOGIN_ACCOUNT, email, settings.BREACT_LOGIN_RATE_LIMIT)
        return response


_password_reset = _PasswordResetView.as_view()
_password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="registration/password_reset_done.html"
)
_password_reset_confirm = _PasswordResetConfirmView.as_view()
_password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="registration/password_reset_complete.html"
)


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponseBase:
    """Ask for a reset link by email; the next page reads the same whether or not the address
    has an account."""
    return _password_reset(request)


@require_http_methods(["GET"])
def password_reset_done(request: HttpRequest) -> HttpResponseBase:
    return _password_reset_done(request)


@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponseBase:
    return _password_reset_confirm(request, uidb64=uidb64, token=token)


@require_http_methods(["GET"])
def password_reset_complete(request: HttpRequest) -> HttpResponseBase:
    return _password_reset_complete(request)
