"""Pulse surveys with unlinkable responses (issue: pulse surveys). Not built yet."""
