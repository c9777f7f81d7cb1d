"""Running calls: start (validate, charge, queue), idempotency, the worker's run, complete or
fail with refunds, the poll."""
