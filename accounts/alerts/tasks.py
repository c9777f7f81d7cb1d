"""Celery tasks of the low-balance alert: thin wrappers that take ids and call an action."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from accounts.alerts import actions


@shared_task(
    name="accounts.tasks.low_balance_email",  # the name queued messages carry: kept stable
    autoretry_for=(OSError, SMTPException),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def low_balance_email(account_id: int) -> bool:
    """Send the low-balance email claimed by actions.low_balance_check (retried on mail
    server errors)."""
    return actions.low_balance_email_send(account_id=account_id)
