"""Pages of the console for services: home, catalogue, playground, usage."""
