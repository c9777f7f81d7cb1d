"""Knowledge bases and their documents (used by the knowledge_service)."""
