"""Theme analysis: taxonomy, scope (negation, hedges, hypotheticals), paraphrases, evidence, tone,
emerging phrases, the supervised layer's train/save/load, and the held-out regression floor."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import AnalysisError
from analysis.themes.classifier import ThemeModel, TrainingOptions, train
from analysis.themes.emerging import FUNCTION_WORDS, GENERIC_WORDS, PRONOUNS, emerging_phrases
from analysis.themes.engine import ThemeEngine
from analysis.themes.errors import LabelledDataError, ModelError, TaxonomyError
from analysis.themes.evaluation import evaluate_engine, format_report
from analysis.themes.labelled import DEV, HELDOUT, LabelledExample, read_labelled, split_of
from analysis.themes.taxonomy import DEFAULT_TAXONOMY, load_taxonomy, parse_taxonomy
from analysis.themes.tone import ToneAnalyser

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests" / "data" / "themes_labelled.csv"
REAL = ROOT / "tests" / "data" / "real_staff_text.csv"
REQUIRED_THEMES = {
    "nepotism_favouritism", "overlooked_for_promotion", "roles_not_advertised", "racial_discrimination",
    "bullying_harassment", "fear_of_speaking_up", "lack_of_development", "patient_safety",
    "staffing_workload",
}
# Splits of the labelled file (tests/data/README.md): the taxonomy and the model are built from
# `dev` to `dev8` (dev3 was `heldout2` until round 3, dev4 was `heldout3` until round 4);
# `heldout4` was written before the fourth round of tuning, by someone other than the tuner, and
# is measured only.
DEV2 = "dev2"
DEV3 = "dev3"
DEV4 = "dev4"
HELDOUT4 = "heldout4"
DEVELOPMENT = (DEV, DEV2, DEV3, DEV4, "dev5", "dev6", "dev7", "dev8", "dev9")
# Measured once on heldout4 after round 4 of tuning (2026-11-26): macro F1 0.863; 0.862 for the
# shipped engine after precision fixes made from made-up ordinary comments, not from heldout4.
# The engine is deterministic; the floor leaves a little room for small edits. heldout4 must not
# be used to tune: a change that lowers it is a regression.
HELDOUT4_MACRO_F1_FLOOR = 0.84
# Measured once on the real corpus's frozen heldout_real rows after round 1 of tuning on
# dev_real (issue 10, 2026-12-03): macro F1 0.492 [0.394, 0.542], false alarms on no-theme
# extracts 21.3%; after round 2 (231 more dev_real rows, rule fixes, retrained models):
# 0.484 [0.386, 0.538], false alarms 21.7%, the headline figure since then. Floors just below
# it, as a regression check: heldout_real must never be used to tune.
HELDOUT_REAL_MACRO_F1_FLOOR = 0.47
HELDOUT_REAL_FALSE_ALARMS_CEILING = 0.23
# The development splits are training data (in-sample macro F1 in tests/data/README.md): floors
# that check that edits made for new phrasings do not lose what the engine already gets right.
# Since issue 10 round 1 the thresholds are calibrated on real staff text (dev_real), where
# the themes' words are used far more loosely: in-sample figures on the written splits fell
# from 0.96-0.99 to 0.91-0.96 (dev8, the contrast set, 0.92 to 0.82), the price of recall on
# real text. The floors follow the measured figures.
DEVELOPMENT_MACRO_F1_FLOORS = {DEV2: 0.94, DEV3: 0.89, DEV4: 0.89, "dev5": 0.89, "dev6": 0.91,
                               "dev7": 0.89, "dev8": 0.78}


@pytest.fixture(scope="module")
def engine() -> ThemeEngine:
    return ThemeEngine.default()


@pytest.fixture(scope="module")
def rules() -> ThemeEngine:
    return ThemeEngine.default(with_model=False, with_tone=False, with_embeddings=False)


@pytest.fixture(scope="module")
def examples() -> list[LabelledExample]:
    return read_labelled(LABELLED, known_themes=REQUIRED_THEMES)


def theme_ids(engine: ThemeEngine, text: str) -> set[str]:
    return {hit.theme for hit in engine.themes(text)}


# --- taxonomy ----------------------------------------------------------------------------------


def test_taxonomy_has_the_required_themes_with_descriptions() -> None:
    taxonomy = load_taxonomy()
    assert set(taxonomy.theme_ids) >= REQUIRED_THEMES
    for theme in taxonomy.themes:
        assert len(theme.description) > 40 and theme.label


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('patterns = ["{NOPE} thing"]', "unknown macro"),
        ('patterns = ["~3 thing"]', "gap"),
        ('patterns = ["thing ~99 other"]', "gaps are at most"),
        ('patterns = ["thing&other"]', "is not a word"),
        ('patterns = []', "needs at least one pattern"),
    ],
)
def test_bad_taxonomy_is_refused_with_a_reason(change: str, message: str) -> None:
    text = f'[[themes]]\nid = "t"\nlabel = "T"\ndescription = "A theme."\n{change}\n'
    with pytest.raises(TaxonomyError, match=message) as caught:
        parse_taxonomy(text)
    assert isinstance(caught.value, AnalysisError)


def test_taxonomy_edits_need_no_code(tmp_path: Path) -> None:
    edited = DEFAULT_TAXONOMY.read_text(encoding="utf-8") + (
        '\n[[themes]]\nid = "car_parking"\nlabel = "Car parking"\n'
        'description = "Parking spaces and charges for staff."\npatterns = ["car ~1 park|parking"]\n'
    )
    path = tmp_path / "taxonomy.toml"
    path.write_text(edited, encoding="utf-8")
    engine = ThemeEngine.default(taxonomy=path, with_model=False, with_tone=False)
    assert theme_ids(engine, "The car park is full by seven every morning.") == {"car_parking"}


# --- negation, denials, hedges and hypotheticals ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "theme", "expected"),
    [
        ("I have never been bullied here.", "bullying_harassment", False),
        ("I have been bullied here for years.", "bullying_harassment", True),
        ("I'm not being bullied, I just find the job stressful.", "bullying_harassment", False),
        ("Nobody has ever been racist to me.", "racial_discrimination", False),
        ("I'm not afraid to raise concerns.", "fear_of_speaking_up", False),
        ("I'm afraid to raise concerns.", "fear_of_speaking_up", True),
        ("There is no favouritism in our team that I can see.", "nepotism_favouritism", False),
        ("Favouritism is not a problem on this ward.", "nepotism_favouritism", False),
        ("Never had a problem getting study leave approved.", "lack_of_development", False),
        ("If I was bullied I would know who to tell.", "bullying_harassment", False),
        ("I've never complained before, but I am bullied every single day.", "bullying_harassment", True),
        # Negations that are the complaint itself.
        ("The post was never advertised.", "roles_not_advertised", True),
        ("All roles are advertised openly on NHS Jobs.", "roles_not_advertised", False),
        ("They said I didn't have UK experience.", "racial_discrimination", True),
        ("There's no point raising it, nothing happens.", "fear_of_speaking_up", True),
        ("I feel safe to speak up and my concerns are taken seriously.", "fear_of_speaking_up", False),
    ],
)
def test_scope(rules: ThemeEngine, engine: ThemeEngine, text: str, theme: str, expected: bool) -> None:
    assert (theme in theme_ids(rules, text)) is expected
    assert (theme in theme_ids(engine, text)) is expected


def test_a_hedge_keeps_the_theme_but_lowers_its_score(rules: ThemeEngine) -> None:
    plain = rules.themes("Jobs go to the manager's friends.")[0]
    hedged = rules.themes("Maybe I'm wrong, but jobs go to the manager's friends.")[0]
    assert plain.theme == hedged.theme == "nepotism_favouritism"
    assert hedged.score < plain.score


# --- paraphrases and evidence -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("jobs go to the manager's friends", "nepotism_favouritism"),
        ("It's not what you know, it's who you know.", "nepotism_favouritism"),
        ("I trained her and now she's my boss", "overlooked_for_promotion"),
        ("I keep getting passed over for the band 6.", "overlooked_for_promotion"),
        ("The interview was a formality, the job had been earmarked.", "roles_not_advertised"),
        ("there's no point raising it, nothing happens", "fear_of_speaking_up"),
        ("Nothing will change, so why bother.", "fear_of_speaking_up"),
        ("they said I didn't have UK experience", "racial_discrimination"),
        ("My line manager belittles me in front of the team.", "bullying_harassment"),
        ("My requests for study leave are always refused.", "lack_of_development"),
        ("Observations are not being done and patients are at risk.", "patient_safety"),
        ("We are so short staffed I never get a break.", "staffing_workload"),
    ],
)
def test_paraphrases_without_the_theme_name_are_caught(rules: ThemeEngine, text: str, theme: str) -> None:
    assert theme in theme_ids(rules, text)


def test_evidence_shows_the_triggering_words(engine: ThemeEngine) -> None:
    hits = {h.theme: h for h in engine.themes("Honestly, jobs go to the manager's friends and nobody "
                                              "dares say anything.")}
    assert "jobs go to the manager's friends" in hits["nepotism_favouritism"].evidence
    assert any("dares" in e for e in hits["fear_of_speaking_up"].evidence)


def test_every_assigned_theme_has_evidence_from_the_text(engine: ThemeEngine,
                                                         examples: list[LabelledExample]) -> None:
    for example in examples:
        lowered = " ".join(example.text.lower().replace("\u2019", "'").split())
        for hit in engine.themes(example.text):
            assert hit.evidence, (example.id, hit.theme)
            assert 0.0 <= hit.score <= 1.0
            for words in hit.evidence:
                # Rule and n-gram evidence is lower-case words; the embedding layer's is a sentence
                # as written.
                assert all(word.strip(".,").lower().replace("\u2019", "'") in lowered
                           for word in words.split()), (example.id, words)


def test_empty_and_non_english_text_get_no_themes(engine: ThemeEngine) -> None:
    for text in ["", "   ", "12345", "Il n'y a rien à dire, tout va bien dans mon équipe.",
                 "Todo bien en mi equipo, gracias.", "Всё хорошо, спасибо.", "一切都很好"]:
        tagged = engine.tag(text)
        assert tagged.themes == () and tagged.tone == 0.0 and not tagged.english


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_is_tagged_without_error(engine: ThemeEngine, text: str) -> None:
    tagged = engine.tag(text)
    assert -1.0 <= tagged.tone <= 1.0
    assert all(0.0 <= h.score <= 1.0 and h.evidence for h in tagged.themes)


@pytest.mark.parametrize(("with_embeddings", "ahead"), [(True, 8), (False, 1)])
def test_tagging_streams_rows_at_most_one_batch_ahead(with_embeddings: bool, ahead: int) -> None:
    """With an embedding layer rows are read a batch at a time (to encode them together);
    without one, one at a time. Either way a million rows are never all read."""
    consumed = 0

    def rows() -> Iterator[tuple[str, str]]:
        nonlocal consumed
        for i in range(1_000_000):
            consumed += 1
            yield str(i), "Jobs go to the manager's friends."

    engine = ThemeEngine.default(with_tone=False, with_embeddings=with_embeddings)
    results = engine.tag_rows(rows(), batch=8)
    first_id, first = next(results)
    assert (first_id, consumed) == ("0", ahead)
    assert first.themes[0].theme == "nepotism_favouritism"
    for _ in range(9):
        next(results)
    assert consumed == 10 if ahead == 1 else consumed == 16


# --- tone -----------------------------------------------------------------------------------------


def test_tone_is_corrected_for_this_domain() -> None:
    corrected, stock = ToneAnalyser.default(), ToneAnalyser.plain_vader()
    text = "jobs go to friends of the manager"
    assert stock.score(text) > 0.3  # what VADER gets wrong
    assert corrected.score(text) <= 0.0
    assert corrected.score("Jobs go to the manager's friends.") <= 0.0
    praise_of_nothing = "The Trust cares about patient safety."
    assert corrected.score(praise_of_nothing) < stock.score(praise_of_nothing)
    assert corrected.score("My team is lovely and really supportive.") > 0.5


def test_tone_never_decides_a_theme(examples: list[LabelledExample]) -> None:
    with_tone = ThemeEngine.default()
    without_tone = ThemeEngine.default(with_tone=False)
    for example in examples[:150]:
        assert with_tone.themes(example.text) == without_tone.themes(example.text)
    cheerful = with_tone.tag("Lovely team, brilliant, amazing, but jobs go to the manager's friends!")
    assert cheerful.tone > 0 and cheerful.themes[0].theme == "nepotism_favouritism"


# --- emerging phrases ------------------------------------------------------------------------------


def test_emerging_phrases_find_recurring_issues_outside_the_taxonomy(rules: ThemeEngine) -> None:
    comments = []
    for i in range(8):
        comments.append((f"p{i}", f"The car park charges went up again and the barrier is broken ({i})."))
        comments.append((f"m{i}", "There is no menopause support for older nurses on nights."))
        comments.append((f"n{i}", "Jobs go to the manager's friends and I was passed over."))
    comments += [(f"x{i}", text) for i, text in enumerate(
        ["The ward was busy today.", "My team is lovely.", "Handover takes too long."])]
    found = emerging_phrases(iter(comments), matcher=rules.matcher, min_comments=3)
    phrases = [p.phrase for p in found]
    assert any("car park" in p for p in phrases)
    assert any("menopause support" in p for p in phrases)
    assert not any("friends" in p or "passed" in p for p in phrases)  # covered by themes
    top = next(p for p in found if "car park" in p.phrase)
    assert top.comments == 8 and len(top.examples) == 3 and top.keyness > 0


def test_emerging_phrases_skip_pronouns_and_mere_times(rules: ThemeEngine) -> None:
    """The demo's noise ("nurse i keep being told", "time someone"): phrases across a pronoun, or
    of time and quantity words only, are never reported; the issue in the same comments is."""
    comments = []
    for i in range(6):
        comments.append((f"a{i}", "As an internationally educated nurse I keep being told I don't "
                                  "have UK experience, after seven years on this ward."))
        comments.append((f"b{i}", "I have applied six times. Each time someone with less experience "
                                  "got it, three years ago and again this year."))
        comments.append((f"c{i}", "The staff lockers in the basement were broken into again."))
    phrases = [p.phrase for p in emerging_phrases(comments, matcher=rules.matcher, min_comments=3)]
    assert any("staff lockers" in p for p in phrases)
    assert not any(word in p.split() for p in phrases for word in ("i", "someone"))
    assert not any(p in ("three years", "years ago", "seven years", "six times") for p in phrases)


def test_emerging_phrases_on_real_staff_text_name_things_not_times(rules: ThemeEngine) -> None:
    """On the real corpus's development rows (what staff said in public about many things), the
    phrases are things and roles, never a pronoun or a bare time, and distinctive (G2 >= 3.84)."""
    with (ROOT / "tests" / "data" / "real_staff_text.csv").open(encoding="utf-8", newline="") as f:
        comments = [(r["id"], r["text"]) for r in csv.DictReader(f) if r["split"] == "dev_real"]
    found = emerging_phrases(comments, matcher=rules.matcher, min_comments=5, top=30)
    assert found
    for phrase in found:
        words = phrase.phrase.split()
        assert not PRONOUNS & set(words), phrase
        assert not all(w.isdigit() or w in GENERIC_WORDS or w in FUNCTION_WORDS for w in words), phrase
        assert phrase.keyness >= 3.84


def test_emerging_phrases_of_nothing_is_empty(rules: ThemeEngine) -> None:
    assert emerging_phrases([], matcher=rules.matcher) == []
    assert emerging_phrases([("1", "")], matcher=rules.matcher) == []


# Made-up ordinary comments that share words with the patterns (a fresh-eyes review of round 4
# found generic patterns assigning themes to all but one of them): no rule may fire on any.
@pytest.mark.parametrize(
    ("text", "ruled_out"),
    [
        ("I have never been bullied here.", {"bullying_harassment"}),
        ("If I was bullied I would know who to tell.", {"bullying_harassment"}),
        ("I feel safe to speak up and my concerns are taken seriously.", {"fear_of_speaking_up"}),
        ("I don't feel safe to speak up.", set()),
        ("I was not bullied at first, but now I am bullied every day.", set()),
        ("The vacant post was advertised openly and I got it.", {"roles_not_advertised"}),
    ],
)
def test_the_rules_tell_the_embedding_layer_which_themes_are_absent(rules: ThemeEngine, text: str,
                                                                    ruled_out: set[str]) -> None:
    """Sentence embeddings see the topic, not the polarity: a theme the rules found only denied,
    negated or imagined, or one an ``absent`` pattern names, is never added by them."""
    assert rules.matcher.ruled_out(rules.matcher.analyse(text)) == ruled_out


ORDINARY_COMMENTS = [
    'The consultant told mum the scan was normal.',
    'Mum was with the consultant when the baby was born.',
    'I asked for the shift so I could go and see my mum.',
    'Nurses look after their own patients on this ward.',
    'This is related to the new IT system.',
    'The HCAs help with washing and grooming in the mornings.',
    'The invite only came through yesterday.',
    'We had the same group for the induction week.',
    'The handover was not bad this time.',
    'The lift broke for the third time this month.',
    'The meeting went ahead without us because of the snow.',
    'The patient was never moved up the bed properly, so we got a slide sheet.',
    'We waited two years for that service to open and it is brilliant.',
    'Bank staff never get any pay enhancements for nights.',
    'Can someone cover the last one next time?',
    'The wound was stitched up in ED.',
    'The bay closed within 48 hours because of norovirus.',
    'The clinic is supposed to open at eight.',
    'Estates told us they would get it fixed.',
    'We made a care plan for the family.',
    'I sent an email to two managers about the parking.',
    'Everyone gets to see the rota six weeks ahead.',
    'Could the canteen stay open longer on nights?',
    'Annual leave is agreed in advance with the coordinator.',
    'I found out when my shift started that we had a new starter.',
    'We advertise every post here, even acting up.',
    'We always have an external panel member and it feels fair.',
    'Our posts stay on NHS Jobs for 14 days.',
    'Many of our patients speak little English so we use interpreters.',
    'She was discharged back home with a care package.',
    'We fill in the hospital passport for patients with a learning disability.',
    'The two insulin pens look the same, which worries me.',
    'We work closely with local staff from the council.',
    'Have you seen people using the new car park?',
    'The new e-learning helps you a lot.',
    "I'm Black and my manager has always supported my career.",
    'My name badge has an issue with the printer.',
    'We have been hit by the winter pressures like everyone.',
    'Things kicked off at handover but it was sorted quickly.',
    'Everyone should raise their voice about safety, the campaign says.',
    'The staff laugh together a lot, great atmosphere.',
    'It is awful to see staff so tired.',
    "I was thrown onto nights at a day's notice.",
    'Nobody at the trust knows where the keys are.',
    'Nurses who moved to the trust last year have settled in well.',
    'I came into work and it was me and one HCA.',
    'Please do not share patient identifiable information by email.',
    'I will get back to her about the rota.',
    'The ward has got a great reputation.',
    'I know how it goes with the new system.',
    'Please put your name on it before it goes in the fridge.',
    'She has since been moved to ICU and loves it.',
    'Everyone knows everyone in a small hospital like ours.',
    'Falls in the last quarter have dropped.',
    'CD checks are completed twice a day.',
    'I have 300 unread emails.',
    'My emails went unacknowledged for a week.',
    'My post was downgraded in the restructure and I accepted it.',
    "I can't get home safely after a late shift without a bus.",
    'Obs were marked as done on the new system.',
    'My operation was postponed again.',
    'Thank you for this short survey.',
    'There is a lack of support for us with the new IT system.',
    'The car park is for the whole trust.',
    'We always work bank holidays on a rota.',
    'Ten people came down with flu.',
    'They took away our staff room.',
    'The canteen hours were reduced.',
    'Please fill in the gaps on the form.',
    'The vacant post was advertised openly and I got it.',
    'More staff completed their training this year.',
    'I actually get my breaks now.',
]


@pytest.mark.parametrize("text", ORDINARY_COMMENTS)
def test_ordinary_comments_trigger_no_rule(rules: ThemeEngine, text: str) -> None:
    assert theme_ids(rules, text) == set()


# --- supervised layer ------------------------------------------------------------------------------


def test_train_save_load_round_trip(rules: ThemeEngine, examples: list[LabelledExample],
                                    tmp_path: Path) -> None:
    training = [e for e in examples if e.split == DEV]
    model = train(training, matcher=rules.matcher, options=TrainingOptions(steps=150))
    path = tmp_path / "model.json"
    model.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "speakup-themes-model" and data["metadata"]["examples"] == len(training)
    loaded = ThemeModel.load(path)
    assert loaded.themes == model.themes
    for text in ["Jobs go to the manager's friends.", "We are short staffed.", "Nothing to add."]:
        analysis = rules.matcher.analyse(text)
        before, after = model.score(analysis).probabilities, loaded.score(analysis).probabilities
        assert before == pytest.approx(after, abs=1e-4)
    # The model learns from its labels: a trust's own phrase, unknown to the rules, is picked up.
    phrase = "the wombat rota"
    extra = [LabelledExample(f"w{i}", f"Again {phrase} was used against me, week {i}.",
                             frozenset({"bullying_harassment"})) for i in range(12)]
    query = f"{phrase.capitalize()} was used against me again."
    assert "bullying_harassment" not in theme_ids(rules, query)
    learned = rules.with_model(train(training + extra, matcher=rules.matcher))
    assert "bullying_harassment" in theme_ids(learned, query)


def test_training_from_a_prior_adapts_it_without_forgetting(rules: ThemeEngine,
                                                            examples: list[LabelledExample]) -> None:
    base = train([e for e in examples if e.split == DEV], matcher=rules.matcher,
                 options=TrainingOptions(steps=150))
    phrase = "the wombat rota"
    local = [LabelledExample(f"w{i}", f"Again {phrase} was used against me, week {i}.",
                             frozenset({"bullying_harassment"})) for i in range(6)]
    local += [LabelledExample(f"n{i}", f"The canteen queue was long on day {i}.", frozenset())
              for i in range(6)]
    theme = ("bullying_harassment",)
    known = "My manager belittles me and mocks me in front of the team."
    new = f"{phrase.capitalize()} was used against me again."

    def probability(model: ThemeModel, text: str) -> float:
        return model.score(rules.matcher.analyse(text)).probabilities["bullying_harassment"]

    adapted = train(local, matcher=rules.matcher, themes=theme, prior=base)
    cold = train(local, matcher=rules.matcher, themes=theme)
    assert probability(adapted, new) > probability(base, new) + 0.1  # learns the trust's phrase
    # ... and keeps what the shipped model knew, which twelve cases alone cannot teach.
    assert probability(base, known) > 0.5 and probability(adapted, known) > 0.5
    assert probability(cold, known) < probability(adapted, known) - 0.2
    assert set(base.vocabulary) <= set(adapted.vocabulary)
    assert adapted.metadata["prior"]["examples"] == base.metadata["examples"]
    # A prior feature met in fewer than min_count of the cases keeps the prior's weight exactly:
    # no weight can carry what one case said. "canteen" is in all six negatives and moves.
    once = [LabelledExample("once", "The wombat rota was mentioned at appraisal.",
                            frozenset({"bullying_harassment"}))]
    adapted = train(local + once, matcher=rules.matcher, themes=theme, prior=base,
                    options=TrainingOptions(min_count=3))
    column = base.themes.index("bullying_harassment")

    def weight(model: ThemeModel, name: str) -> float:
        return float(model.weights[model.vocabulary[name], model.themes.index("bullying_harassment")])

    assert "apprais" in base.vocabulary
    assert weight(adapted, "apprais") == float(base.weights[base.vocabulary["apprais"], column])
    # The bias is pulled towards the prior's too: cases that are half bullying do not make
    # bullying look common everywhere.
    assert abs(float(adapted.bias[0]) - float(base.bias[column])) < 0.5


@pytest.mark.parametrize(
    "content",
    ['{"format": "something-else", "version": 1}', "not json", '{"format": "speakup-themes-model", '
     '"version": 1, "themes": ["a"], "bias": [0.0], "features": {"x": [1.0, 2.0]}}',
     '{"format": "speakup-themes-model", "version": 1, "themes": ["a"], "bias": ["NaN"], "features": {}}'],
)
def test_bad_model_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelError):
        ThemeModel.load(path)


def test_training_needs_examples_of_every_theme(rules: ThemeEngine) -> None:
    with pytest.raises(ModelError, match="positive and negative"):
        train([LabelledExample("1", "Jobs go to friends.", frozenset({"nepotism_favouritism"}))],
              matcher=rules.matcher)


# --- labelled data and the held-out floor ----------------------------------------------------------


def test_labelled_set_meets_its_brief(examples: list[LabelledExample]) -> None:
    assert len(examples) >= 300
    counts = Counter(theme for e in examples for theme in e.themes)
    assert all(counts[t] >= 25 for t in REQUIRED_THEMES), counts
    assert {e.split for e in examples} == {*DEVELOPMENT, HELDOUT4}
    assert sum(1 for e in examples if not e.themes) >= 25
    assert sum(1 for e in examples if len(e.themes) >= 2) >= 40
    assert len({e.id for e in examples}) == len(examples)
    heldout = [e for e in examples if e.split == HELDOUT4]
    assert len(heldout) >= 200
    counts_heldout = Counter(theme for e in heldout for theme in e.themes)
    assert all(counts_heldout[t] >= 20 for t in REQUIRED_THEMES), counts_heldout
    assert sum(1 for e in heldout if not e.themes) >= 50
    assert sum(1 for e in heldout if len(e.themes) >= 2) >= 40


def test_labelled_files_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,text,themes\n1,hello,no_such_theme\n", encoding="utf-8")
    with pytest.raises(LabelledDataError, match="unknown theme"):
        read_labelled(path, known_themes=REQUIRED_THEMES)
    path.write_text("id,text\n1,hello\n", encoding="utf-8")
    with pytest.raises(LabelledDataError, match="missing column"):
        read_labelled(path)
    assert split_of("abc") == split_of("abc") and {split_of(str(i)) for i in range(50)} == {DEV, HELDOUT}


@pytest.mark.parametrize("split", sorted(DEVELOPMENT_MACRO_F1_FLOORS))
def test_development_macro_f1_stays_above_its_floor(engine: ThemeEngine, examples: list[LabelledExample],
                                                    split: str) -> None:
    rows = [e for e in examples if e.split == split]
    assert rows
    evaluation = evaluate_engine(engine, rows)
    assert evaluation.macro_f1 >= DEVELOPMENT_MACRO_F1_FLOORS[split], format_report(evaluation, split)


def test_ordinary_development_comments_rarely_get_a_theme(engine: ThemeEngine,
                                                         examples: list[LabelledExample]) -> None:
    """dev9: 250 ordinary comments in the themes' vocabulary, none with a theme (in-sample: 17 get
    one since the thresholds are calibrated on real text, 4 before). A floor on false alarms
    where macro F1 means nothing."""
    ordinary = [e for e in examples if e.split == "dev9"]
    assert len(ordinary) == 250 and not any(e.themes for e in ordinary)
    tagged = [e.text for e in ordinary if engine.themes(e.text)]
    assert len(tagged) <= 20, tagged


def test_heldout4_is_unchanged(examples: list[LabelledExample]) -> None:
    """heldout4 is the text the engine was measured on once: an edit to its rows (or labels)
    would make the recorded figure meaningless. The digest is the one recorded in
    tests/data/README.md when the rows were appended, before round 4 of tuning."""
    with LABELLED.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == HELDOUT4]
    joined = "\n".join("\t".join((r["id"], r["text"], r["themes"])) for r in rows)
    assert hashlib.sha256(joined.encode("utf-8")).hexdigest() == (
        "b3c339a1a1344d35d368a9e6864fd1ed0f92ab1a53274059d1b712e1669cb8b2")


def test_heldout4_macro_f1_stays_above_the_floor(engine: ThemeEngine,
                                                 examples: list[LabelledExample]) -> None:
    heldout = [e for e in examples if e.split == HELDOUT4]
    evaluation = evaluate_engine(engine, heldout)
    assert evaluation.macro_f1 >= HELDOUT4_MACRO_F1_FLOOR, format_report(evaluation, "heldout4")


def test_heldout_real_stays_above_the_floor(engine: ThemeEngine) -> None:
    real = read_labelled(REAL, known_themes=REQUIRED_THEMES)
    evaluation = evaluate_engine(engine, [e for e in real if e.split == "heldout_real"])
    report = format_report(evaluation, "heldout_real")
    assert evaluation.comments == 668
    assert evaluation.macro_f1 >= HELDOUT_REAL_MACRO_F1_FLOOR, report
    assert evaluation.false_alarm_rate <= HELDOUT_REAL_FALSE_ALARMS_CEILING, report


def test_the_shipped_model_never_saw_a_heldout_row(examples: list[LabelledExample]) -> None:
    """The n-gram model is trained on the written development rows and the real corpus's
    dev_real rows: never on heldout4 or heldout_real."""
    model = ThemeModel.load(ROOT / "config" / "themes" / "model.json")
    real = [e for e in read_labelled(REAL, known_themes=REQUIRED_THEMES) if e.split == "dev_real"]
    training = [e for e in examples if e.split in DEVELOPMENT] + real
    assert model.metadata["examples"] == len(training)
    positives = Counter(theme for e in training for theme in e.themes)
    assert model.metadata["positives"] == {t: positives[t] for t in model.themes}


def test_a_weighted_comment_counts_as_repeated_comments(rules: ThemeEngine,
                                                        examples: list[LabelledExample]) -> None:
    rows = [e for e in examples if e.split == DEV]
    options = TrainingOptions(steps=60, min_count=1)  # a repeat must not lift a feature's count
    weighted = train(rows, matcher=rules.matcher, options=options,
                     weights=[2.0] * 60 + [1.0] * (len(rows) - 60))
    repeated = train(rows[:60] + rows, matcher=rules.matcher, options=options)
    assert weighted.vocabulary == repeated.vocabulary
    assert abs(weighted.weights - repeated.weights).max() < 1e-6
    with pytest.raises(ModelError, match="weights"):
        train(rows, matcher=rules.matcher, weights=[1.0])
