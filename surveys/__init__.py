"""Pulse surveys for respondents: definitions, invitation codes, unlinkable answers, results
computation and the ``speakup survey`` command. The EDI lead's pages are in `equality`."""
