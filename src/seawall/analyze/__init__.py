"""Offline analysis: access logs read, parsed into column batches and replayed through detection."""
