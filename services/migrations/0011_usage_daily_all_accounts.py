"""UsageDaily rows of all accounts and keys (account_ref = api_key_ref = -1) for the days
already rolled up, summed from the per-account rows, so platform-wide reads (which now read
only those rows) see the whole history. Derived data: reversing deletes them."""

from django.db import migrations

ALL_REFS = -1  # services.models.ALL_REFS as it was when this migration was written
GRAIN = ("day", "service_id", "endpoint", "kind", "status_class")


def build(apps, schema_editor):
    UsageDaily = apps.get_model("services", "UsageDaily")
    totals: dict = {}
    for row in UsageDaily.objects.filter(account_ref__gte=0).iterator(chunk_size=5000):
        grain = tuple(getattr(row, f) for f in GRAIN)
        total = totals.get(grain)
        if total is None:
            total = totals[grain] = UsageDaily(
                **dict(zip(GRAIN, grain, strict=True)),
                account_ref=ALL_REFS,
                api_key_ref=ALL_REFS,
                requests=0,
                credits=0,
                duration_ms_sum=0,
                latency_buckets=[0] * len(row.latency_buckets),
            )
        total.requests += row.requests
        total.credits += row.credits
        total.duration_ms_sum += row.duration_ms_sum
        total.latency_buckets = [
            a + b for a, b in zip(total.latency_buckets, row.latency_buckets, strict=True)
        ]
    UsageDaily.objects.bulk_create(totals.values(), batch_size=1000)


def unbuild(apps, schema_editor):
    apps.get_model("services", "UsageDaily").objects.filter(account_ref=ALL_REFS).delete()


class Migration(migrations.Migration):
    dependencies = [("services", "0010_figure_rollups")]

    operations = [migrations.RunPython(build, unbuild)]
