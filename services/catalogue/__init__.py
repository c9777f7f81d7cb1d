"""The catalogue: the registry of services defined in code (registry), the rows that price and
switch them (actions: sync), and resolving a call to an endpoint (selectors)."""
