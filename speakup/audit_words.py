"""The audit log in words a guardian reads: "Opened case K7QX2M9B", not ``case.view``.

Only wording: the events themselves (`core.audit`) are unchanged and still verified as stored.
An action this module does not know is shown as recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from config.vocabulary import STATUSES
from core.audit import AuditEvent

_PLAIN = {
    "case.view": "Opened the case",
    "case.reply": "Replied to the reporter",
    "case.note": "Added a private note",
    "case.ngo": "Saved the National Guardian's Office record",
    "case.download": "Downloaded a file from the case",
    "staff.login": "Signed in",
    "staff.logout": "Signed out",
    "staff.password": "Changed their password",
    "staff.create": "Created a staff account",
    "staff.disable": "Disabled a staff account",
    "staff.enable": "Enabled a staff account",
    "staff.locked": "Account locked after failed sign-ins",
    "staff.recover": "Signed in with a recovery key",
    "staff.rotate-keys": "Replaced their encryption keys",
    "staff.key-restored": "Restored an encryption key",
    "themes.retrain": "Retrained the theme engine",
    "audit.rekey": "Re-keyed the audit log",
    "orgkey.grant": "Shared the equality analysis key",
    "survey.create": "Created a survey",
    "survey.update": "Changed a survey",
    "survey.open": "Opened a survey wave",
    "survey.close": "Closed a survey wave",
    "survey.codes": "Made invitation codes",
    "survey.import": "Imported survey answers",
    "workforce.import": "Imported workforce data",
    "workforce.publish": "Published workforce figures",
    "workforce.targets": "Set workforce targets",
    "workforce.staff-survey": "Added staff survey figures",
}


@dataclass(frozen=True)
class AuditLine:
    when: str
    who: str
    what: str
    case_ref: str | None  # the case it is about, for a link
    about: str  # the account or other thing it is about, in words ("" if none)


def _period(detail: str) -> str:
    try:
        start, end = (date.fromisoformat(part) for part in detail.split(".."))
    except ValueError:
        return detail
    return f"{start:%-d %B %Y} to {end:%-d %B %Y}"


def describe(event: AuditEvent, *, names: Mapping[int, str],
             themes: Mapping[str, str]) -> AuditLine:
    """One event as a line of the audit page."""

    def name(ref: str) -> str:
        kind, _, value = ref.partition(":")
        if kind == "staff" and value.isdigit():
            return names.get(int(value), "a former member of staff")
        return {"cli": "Command line (server)", "demo": "Demo set-up"}.get(ref, ref)

    action, detail = event.action, event.detail or ""
    what = _PLAIN.get(action, action + (f" ({detail})" if detail else ""))
    if action == "case.status":
        what = f"Changed the status to {dict(STATUSES).get(detail, detail).lower()}"
    elif action == "case.assign":
        what = ("Took the case off everyone's list" if detail == "unassigned"
                else f"Assigned the case to {name(detail)}")
    elif action == "case.theme":
        theme, _, decision = detail.partition(":")
        verb = {"confirmed": "Confirmed", "removed": "Removed"}.get(decision, "Reviewed")
        what = f"{verb} the theme {themes.get(theme, theme)}"
    elif action == "case.escrow-grant":
        what = f"Opened with the emergency key and shared with {name(detail)}"
    elif action == "ngo.return":
        what = f"Made the National Guardian's Office return for {_period(detail)}"
    elif action == "ngo.return-refused":
        what = ("Was refused the National Guardian's Office return for "
                f"{_period(detail)} (it counts cases they cannot open)")
    elif action == "purge":
        what = f"Deleted closed cases past the retention period ({detail})"
    target = event.target or ""
    case_ref = target[5:] if target.startswith("case:") else None
    about = "" if case_ref or not target else name(target)
    return AuditLine(f"{event.at:%-d %b %Y, %H:%M} UTC", name(event.actor), what, case_ref,
                     about)
