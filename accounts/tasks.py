"""Celery tasks of the accounts app: thin wrappers that take ids and call an action."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from accounts import actions


@shared_task(
    autoretry_for=(OSError, SMTPException),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def low_balance_email(account_id: int) -> bool:
    """Send the low-balance email claimed by actions.low_balance_check (retried on mail
    server errors)."""
    return actions.low_balance_email_send(account_id=account_id)
