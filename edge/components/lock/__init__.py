"""Distributed lock stores (Dapr's alpha lock API)."""
