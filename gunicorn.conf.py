"""gunicorn settings read from this folder (`manage.py serve`, and gunicorn started here).

The access log goes through breact.access_log.RedactingLogger, which writes API keys and access
tokens sent in a URL as [REDACTED]. Command-line options override what is set here.
"""

logger_class = "breact.access_log.RedactingLogger"
