"""Payments through a provider: the product holds tokens, never card numbers."""
