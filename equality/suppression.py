"""PLACEHOLDER disclosure control for workforce breakdowns, until `analysis.disclosure` (being
rewritten) is wired in. Replace every call of `below_k` with the disclosure module's release.

What it does: a breakdown below trust level (by band, cluster, ethnic group, route...) is
hidden when any group it describes has between 1 and k - 1 people. What it does NOT do, and the
real module must: complementary suppression (a hidden cell given away by its row total),
differencing between overlapping breakdowns, periods and filters, the same-answer rule,
rounding. Trust-level figures of the mandatory national returns and the board's composition are
shown exactly and never pass through here.
"""

from __future__ import annotations

BELOW_K = "below k"


def below_k(*group_sizes: int, k: int) -> str | None:
    """``"below k"`` if any group has 1 to k - 1 people, else None (show). PLACEHOLDER."""
    return BELOW_K if any(0 < n < k for n in group_sizes) else None
