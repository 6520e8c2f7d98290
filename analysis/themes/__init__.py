"""Theme analysis of free text: which concerns and comments are about nepotism, being overlooked,
racial discrimination, bullying, fear of speaking up and the other themes of the taxonomy.

Framework-free (no Flask, SQLAlchemy or app imports); every error is an `analysis.AnalysisError`.

* `taxonomy`: the editable theme taxonomy (``config/themes/taxonomy.toml``) and its pattern language;
* `matcher`: the rule layer (stemmed phrase patterns, negation, hedging, hypotheticals);
* `classifier`: the supervised layer (`train`, `ThemeModel` saved as JSON);
* `engine`: both layers combined, with evidence and tone (`ThemeEngine`);
* `tone`: VADER with a domain-corrected lexicon; `emerging`: recurring phrases the taxonomy misses;
* `evaluation`: precision, recall, F1 and confusions on labelled comments; `redaction`: `redact`.
"""

from analysis.themes.errors import LabelledDataError, ModelError, TaxonomyError, ThemeError

__all__ = ["LabelledDataError", "ModelError", "TaxonomyError", "ThemeError"]
