"""Signed webhooks: endpoints an account registers, events, and their deliveries."""
