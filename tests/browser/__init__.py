"""Browser tests: the whole journey in real headless Chromium, with axe-core."""
