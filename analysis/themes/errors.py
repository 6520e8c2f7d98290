"""The errors theme analysis raises; all are `analysis.AnalysisError`s."""

from analysis import AnalysisError


class ThemeError(AnalysisError):
    """Root of the errors raised by `analysis.themes`."""


class TaxonomyError(ThemeError):
    """A taxonomy file (or text) that cannot be used: bad TOML, ids, patterns or numbers."""


class ModelError(ThemeError):
    """A supervised-layer model file that cannot be read, or training data that cannot train one."""


class LabelledDataError(ThemeError):
    """A labelled CSV file that is malformed or names themes the taxonomy lacks."""


class EncoderError(ThemeError):
    """A sentence-encoder folder that cannot be used: missing, unsupported, or weights whose
    SHA-256 is not the configured one."""
