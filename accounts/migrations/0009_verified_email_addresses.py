"""Every user who existed before email verification keeps what they could do: their address is
recorded as a verified, primary allauth EmailAddress (created when missing, never duplicated)."""

from django.db import migrations


def mark_existing_verified(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    for user in User.objects.all().only("pk", "email").iterator():
        if not user.email:
            continue
        existing = EmailAddress.objects.filter(user_id=user.pk, email__iexact=user.email)
        if existing.exists():
            existing.update(verified=True)
            continue
        EmailAddress.objects.create(
            user_id=user.pk,
            email=user.email,
            verified=True,
            primary=not EmailAddress.objects.filter(user_id=user.pk, primary=True).exists(),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_organisations"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.RunPython(mark_existing_verified, migrations.RunPython.noop, elidable=True),
    ]
