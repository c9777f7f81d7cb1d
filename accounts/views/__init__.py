"""Pages of the console for accounts: sign-in, API keys, credits."""
