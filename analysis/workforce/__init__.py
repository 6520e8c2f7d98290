"""Workforce equality figures from a trust's own extracts (WRES, WDES, recruitment, pay gaps).

Framework-free, like the rest of `analysis`: no Flask, no SQLAlchemy. Modules:

- `vocabulary`: the codes the CSV files use (pay bands, routes, staff groups, ethnic groups);
- `records`: one dataclass per imported row (staff, board member, application, target);
- `formats`: the CSV formats, their templates and row-by-row validation;
- `indicators`: WRES indicators 1-4 and 9, WDES metrics 1-3 and 10, declaration rates;
- `recruitment`: the funnel, routes of appointment and the list of unadvertised appointments;
- `paygap`: the six gender pay gap measures, applied to sex, ethnicity and disability;
- `representation`: representation by band against a Model Employer trajectory;
- `report`: every figure for one reporting period in one object;
- `synthetic`: a made-up trust with a built-in disparity, for tests, the demo and benchmarks.

Every output is a plain dataclass that keeps the counts it was computed from. Nothing here
applies disclosure control: trust-level figures of the mandatory national returns are meant to
be shown exactly, and every breakdown below trust level must pass through the disclosure-control
module before anyone sees it.
"""

from analysis import AnalysisError


class WorkforceError(AnalysisError):
    """Root of the errors raised by `analysis.workforce` (bad rows, arguments or codes)."""
