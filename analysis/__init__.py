"""Framework-free analysis: disclosure control and theme analysis (to come). Imports no Flask."""
