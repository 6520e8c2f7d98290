"""EDI leads and boards: everything they read and manage.

Survey pages for the EDI lead (`survey_views`: surveys, waves, codes, results), themed
summaries of concerns and survey comments (`themes`, `theme_views`, `theme_charts`), the
server-drawn charts (`charts`), and the trust's workforce equality data (`models`,
`services`, `payload`, `cli`: reporting periods, import, ``speakup workforce``). Respondents'
pages stay in `surveys`, reporters' and guardians' in `speakup`; the figures themselves come
from `analysis` (no Flask) and reach a page only through `analysis.disclosure`.
"""
