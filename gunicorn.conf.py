"""gunicorn settings read from this folder (`manage.py serve`, and gunicorn started here).

The access log goes through breact.access_log.RedactingLogger, which writes API keys and access
tokens sent in a URL as [REDACTED]. Command-line options override what is set here.
"""

logger_class = "breact.access_log.RedactingLogger"


def child_exit(server: object, worker: object) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, drop an exited worker's live gauges (breact.metrics)."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
