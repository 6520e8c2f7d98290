"""Survey definitions: the TOML format, its validation, and the standard answer sets.

A definition file::

    id = "equality-pulse"              # letters, digits and dashes
    title = "Equality pulse"
    description = "..."                 # optional
    demographics = ["ethnicity", "band", ...]   # from DEMOGRAPHICS below; all optional to answer

    [[questions]]
    id = "roles_fair"                  # letters, digits and underscores; unique
    kind = "agreement"                 # agreement | frequency | single | multiple | yesno | text
    text = "Roles here are advertised and filled fairly."
    options = [{ id = "yes", label = "Yes" }, ...]   # single and multiple only
    favourable = ["agree", "strongly-agree"]         # optional; defaults per kind
    wres = 7                           # optional: the WRES indicator (5 to 8) it feeds
    max_length = 2000                  # text only (default 2000)

Every question is optional to answer. Demographic questions always offer "Prefer not to say".
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from config.settings import CONFIG_DIR
from config.vocabulary import ETHNICITIES, wres_group

TEMPLATES_DIR = CONFIG_DIR / "surveys"

AGREEMENT = (
    ("strongly-disagree", "Strongly disagree"), ("disagree", "Disagree"),
    ("neither", "Neither agree nor disagree"), ("agree", "Agree"),
    ("strongly-agree", "Strongly agree"),
)
FREQUENCY = (
    ("never", "Never"), ("1-2", "1 to 2 times"), ("3-5", "3 to 5 times"),
    ("6-10", "6 to 10 times"), ("more-than-10", "More than 10 times"),
)
YESNO = (("yes", "Yes"), ("no", "No"))
KINDS = ("agreement", "frequency", "single", "multiple", "yesno", "text")
DEFAULT_FAVOURABLE = {
    "agreement": ("agree", "strongly-agree"), "frequency": ("never",), "yesno": ("yes",),
}

BANDS = (
    *((b, f"Band {b}") for b in ("1", "2", "3", "4", "5", "6", "7", "8a", "8b", "8c", "8d", "9")),
    ("vsm", "Very senior manager"), ("medical", "Medical and dental grade"),
)
STAFF_GROUPS = (
    ("apst", "Additional professional scientific and technical"),
    ("additional-clinical", "Additional clinical services"),
    ("admin-clerical", "Administrative and clerical"),
    ("ahp", "Allied health professionals"),
    ("estates-ancillary", "Estates and ancillary"),
    ("healthcare-scientists", "Healthcare scientists"),
    ("medical-dental", "Medical and dental"),
    ("nursing-midwifery", "Nursing and midwifery registered"),
    ("students", "Students"),
)
AGE_BANDS = (("16-20", "16 to 20"), ("21-30", "21 to 30"), ("31-40", "31 to 40"),
             ("41-50", "41 to 50"), ("51-65", "51 to 65"), ("66+", "66 or over"))


@dataclass(frozen=True)
class Demographic:
    id: str
    text: str
    options: tuple[tuple[str, str], ...]


def _demographics(directorates: tuple[tuple[str, str], ...]) -> dict[str, Demographic]:
    return {d.id: d for d in (
        Demographic("ethnicity", "What is your ethnic group?", ETHNICITIES),
        Demographic("band", "What is your Agenda for Change pay band?", BANDS),
        Demographic("staff_group", "Which staff group do you belong to?", STAFF_GROUPS),
        Demographic("directorate", "Where do you mainly work?", directorates),
        Demographic("internationally_educated",
                    "Did you complete your professional education outside the UK?", YESNO),
        Demographic("disability", "Do you have a long-lasting health condition or illness "
                    "that limits your day-to-day activities?", YESNO),
        Demographic("sex", "What is your sex?", (("female", "Female"), ("male", "Male"))),
        # ONS Census 2021 wording; the write-in of "No" is left out (free text identifies).
        Demographic("gender_identity", "Is the gender you identify with the same as your sex "
                    "registered at birth?", YESNO),
        Demographic("age_band", "What is your age?", AGE_BANDS),
    )}


DEMOGRAPHIC_IDS = ("ethnicity", "band", "staff_group", "directorate", "internationally_educated",
                   "disability", "sex", "gender_identity", "age_band")
# Breakdown dimensions derived from demographics: WRES compares White with Global majority.
DERIVED_DIMENSIONS = {"ethnic_group": "ethnicity"}


def ethnic_group(ethnicity: str | None) -> str | None:
    """The WRES grouping of an ONS ethnicity answer ("white", "global-majority") or None."""
    return wres_group(ethnicity)


class DefinitionError(ValueError):
    """A survey definition that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: str
    options: tuple[tuple[str, str], ...] = ()
    favourable: tuple[str, ...] = ()
    wres: int | None = None
    max_length: int = 2000

    @property
    def is_text(self) -> bool:
        return self.kind == "text"

    @property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(o for o, _ in self.options)


@dataclass(frozen=True)
class SurveyDefinition:
    id: str
    title: str
    description: str
    questions: tuple[Question, ...]
    demographics: tuple[Demographic, ...] = field(default=())
    source: str = ""

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def demographic(self, demographic_id: str) -> Demographic:
        for d in self.demographics:
            if d.id == demographic_id:
                return d
        raise KeyError(demographic_id)


_QID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SID = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


def _options(kind: str, raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if kind == "agreement":
        return AGREEMENT
    if kind == "frequency":
        return FREQUENCY
    if kind == "yesno":
        return YESNO
    if kind == "text":
        return ()
    if not isinstance(raw, list) or len(raw) < 2:
        raise DefinitionError(f"{where}: a {kind} question needs at least two options")
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                or not isinstance(item.get("label"), str):
            raise DefinitionError(f"{where}: every option needs an id and a label")
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,39}$", item["id"]):
            raise DefinitionError(f"{where}: option id {item['id']!r} must be lower-case "
                                  "letters, digits and dashes")
        out.append((item["id"], item["label"]))
    if len({o for o, _ in out}) != len(out):
        raise DefinitionError(f"{where}: option ids must be unique")
    return tuple(out)


def parse_definition(text: str, *, directorates: tuple[tuple[str, str], ...] = ()) -> (
    SurveyDefinition
):
    """Parse and validate a TOML definition. Raises :class:`DefinitionError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DefinitionError(f"not valid TOML: {e}") from e
    sid = data.get("id")
    if not isinstance(sid, str) or not _SID.match(sid):
        raise DefinitionError("id must be lower-case letters, digits and dashes")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DefinitionError("title is required")
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise DefinitionError("at least one [[questions]] entry is required")
    questions: list[Question] = []
    seen: set[str] = set(DEMOGRAPHIC_IDS) | {"wave"}
    for n, raw in enumerate(raw_questions, start=1):
        where = f"question {n}"
        if not isinstance(raw, dict):
            raise DefinitionError(f"{where}: must be a table")
        qid, kind, qtext = raw.get("id"), raw.get("kind"), raw.get("text")
        if not isinstance(qid, str) or not _QID.match(qid):
            raise DefinitionError(f"{where}: id must be lower-case letters, digits and "
                                  "underscores, starting with a letter")
        if qid in seen:
            raise DefinitionError(f"{where}: id {qid!r} is used twice or is reserved")
        seen.add(qid)
        where = f"question {qid}"
        if kind not in KINDS:
            raise DefinitionError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if not isinstance(qtext, str) or not qtext.strip():
            raise DefinitionError(f"{where}: text is required")
        options = _options(kind, raw.get("options"), where)
        favourable = raw.get("favourable", DEFAULT_FAVOURABLE.get(kind, ()))
        if not isinstance(favourable, list | tuple) or \
                any(f not in dict(options) for f in favourable):
            raise DefinitionError(f"{where}: favourable must list option ids of the question")
        wres = raw.get("wres")
        if wres is not None and wres not in (5, 6, 7, 8):
            raise DefinitionError(f"{where}: wres must be 5, 6, 7 or 8")
        max_length = raw.get("max_length", 2000)
        if not isinstance(max_length, int) or not 1 <= max_length <= 10_000:
            raise DefinitionError(f"{where}: max_length must be 1 to 10000")
        questions.append(Question(qid, kind, qtext.strip(), options, tuple(favourable), wres,
                                  max_length))
    available = _demographics(directorates)
    wanted = data.get("demographics", list(DEMOGRAPHIC_IDS))
    if not isinstance(wanted, list) or any(d not in available for d in wanted):
        raise DefinitionError("demographics must be a list from: " + ", ".join(DEMOGRAPHIC_IDS))
    return SurveyDefinition(
        id=sid, title=title.strip(), description=str(data.get("description", "")).strip(),
        questions=tuple(questions), demographics=tuple(available[d] for d in wanted),
        source=text,
    )


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.toml"))


def template_text(name: str) -> str:
    """The text of a built-in template. Raises KeyError for an unknown name."""
    if name not in template_names():
        raise KeyError(name)
    return (TEMPLATES_DIR / f"{name}.toml").read_text(encoding="utf-8")


def load_template(name: str, *, directorates: tuple[tuple[str, str], ...] = ()) -> (
    SurveyDefinition
):
    return parse_definition(template_text(name), directorates=directorates)

