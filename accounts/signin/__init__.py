"""Sign-in through django-allauth: our adapter (throttles, account creation), the views mounted
at the console's URLs, the email-verification gate and the Account security page."""
