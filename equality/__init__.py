"""The EDI lead's workforce side: reporting periods of the trust's own workforce extracts
(staff snapshot, board, recruitment, Model Employer targets), their import and the figures
computed from them (`analysis.workforce`). Pages come later; the ``speakup workforce`` command
is in `equality.cli`."""
