"""Freedom to Speak Up concerns: the anonymous reporting side and the guardians' case work."""
