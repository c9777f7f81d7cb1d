"""Sign up, log in and out, password reset."""

from __future__ import annotations

import math
from typing import Any

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
from django_ratelimit.core import get_usage

from accounts.actions import account_sign_up
from accounts.forms import LoginForm, PasswordResetForm, SignupForm, normalize_email

LOGIN_FAILED = "Email or password is incorrect."
# django-ratelimit counter groups (each with a per-address and a per-client-IP counter).
LOGIN_FAILURES = "login-failures"
RESET_MAILS = "password-reset-mails"


def _safe_next(request: HttpRequest) -> str | None:
    """The `next` parameter when it points at this site, else None."""
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def _usages(request: HttpRequest, *, group: str, email: str, increment: bool) -> list[Any]:
    """django-ratelimit's counters of `group` under BREACT_LOGIN_RATE_LIMIT for this address
    and for the client's IP (as django-ratelimit reads it), counting this request or not."""
    usages = []
    for suffix, key in (("account", lambda _group, _request: email), ("ip", "ip")):
        usage = get_usage(
            request,
            group=f"{group}-{suffix}",
            key=key,
            rate=settings.BREACT_LOGIN_RATE_LIMIT,
            increment=increment,
        )
        # None: RATELIMIT_ENABLE is off.
        usages.append(usage or {"count": 0, "limit": 1, "time_left": 0, "should_limit": False})
    return usages


def _login_wait_seconds(request: HttpRequest, email: str) -> int | None:
    """Seconds until another log-in attempt for `email` from this client is allowed, or None
    when one is allowed now. Only failures are counted; this attempt is not."""
    waits = [
        max(int(usage["time_left"]), 60)
        for usage in _usages(request, group=LOGIN_FAILURES, email=email, increment=False)
        # time_left < 0: the cache is unreachable, so refuse rather than allow guessing.
        if usage["time_left"] < 0 or usage["count"] >= usage["limit"]
    ]
    return max(waits) if waits else None


def _signups_exhausted(request: HttpRequest) -> bool:
    """Count this sign-up against its client IP (BREACT_SIGNUP_RATE_LIMIT); True when over."""
    usage = get_usage(
        request,
        group="signup",
        key="ip",
        rate=settings.BREACT_SIGNUP_RATE_LIMIT,
        increment=True,
    )
    return bool(usage and usage["should_limit"])


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _signups_exhausted(request):
        # Each account comes with free credits: a client IP may open only so many per period.
        form.add_error(
            None,
            "Too many accounts were created from your network recently. Try again later.",
        )
        context = {"form": form, "signup_credits": settings.BREACT_SIGNUP_CREDITS}
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
    context = {"form": form, "signup_credits": settings.BREACT_SIGNUP_CREDITS}
    return render(request, "accounts/signup.html", context)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Log in by email and password. Failures are counted per address and per client IP
    (BREACT_LOGIN_RATE_LIMIT); over either limit the attempt is refused before the password is
    checked. Unknown address and wrong password get the same message."""
    if request.user.is_authenticated:
        return redirect("home")
    next_url = _safe_next(request)
    form = LoginForm(request.POST or None)
    status = 200
    throttled = False
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        wait = _login_wait_seconds(request, email)
        if wait is not None:
            throttled = True
            status = 429
            minutes = math.ceil(wait / 60)
            form.add_error(
                None,
                "Too many failed attempts to log in. Try again in "
                f"{minutes} minute{'s' if minutes != 1 else ''}, or reset your password.",
            )
        else:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if user is None:
                _usages(request, group=LOGIN_FAILURES, email=email, increment=True)
                form.add_error(None, LOGIN_FAILED)
            else:
                auth_login(request, user)
                return HttpResponseRedirect(next_url or reverse("home"))
    context = {"form": form, "next": next_url or "", "throttled": throttled}
    return render(request, "accounts/login.html", context, status=status)


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
        usages = _usages(self.request, group=RESET_MAILS, email=email, increment=True)
        if any(usage["should_limit"] for usage in usages):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


_password_reset = _PasswordResetView.as_view()
_password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="registration/password_reset_done.html"
)
_password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="registration/password_reset_confirm.html",
    success_url=reverse_lazy("password_reset_complete"),
)
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
