"""The console pages of the services app: home, catalogue, playground, usage; their forms, charts
and code snippets."""
