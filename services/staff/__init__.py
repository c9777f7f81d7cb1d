"""The staff pages of the services app: billing overview, services and prices, model providers."""
