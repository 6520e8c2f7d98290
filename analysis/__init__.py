"""Framework-free analysis: disclosure control (`disclosure`) and interval statistics (`statistics`).

Imports no Flask, SQLAlchemy or web-app code. Every error raised here is an `AnalysisError`.
"""


class AnalysisError(ValueError):
    """Root of every error the analysis package raises (bad input data or arguments)."""
