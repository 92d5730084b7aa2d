"""The README and docs/*.md stay true to the repository: every relative link
and image resolves (anchors included), every config, tool and docs path named
in code exists, the generated tables match the JSON records they come from,
the README stays short, no page carries dates or points outside the
repository, and docs/testing.md lists every test file. The checkers are
tested on broken pages too, so that they can fail."""
import importlib.util
import re
import subprocess
import sys
from glob import glob
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / 'README.md'] + sorted((ROOT / 'docs').glob('*.md'))
README_MAX_LINES = 300

FENCE_RE = re.compile(r'^[ \t]*```.*?^[ \t]*```[ \t]*$', re.S | re.M)
INLINE_CODE_RE = re.compile(r'`[^`\n]+`')
LINK_RE = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
HTML_SRC_RE = re.compile(r'<(?:img|a)\b[^>]*?(?:src|href)="([^"]+)"')
HEADING_RE = re.compile(r'^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$', re.M)
# Repository paths named in code: configs/..., tools/..., docs/..., ...
CODE_PATH_RE = re.compile(
    r'(?<![\w./-])((?:configs|tools|docs|tests|mmdet_e3va)/[\w.{},*<>/+-]*)')


def strip_code(text):
    """``text`` without fenced code blocks and inline code spans."""
    return INLINE_CODE_RE.sub('', FENCE_RE.sub('', text))


def code_spans(text):
    """The contents of fenced code blocks and inline code spans."""
    fenced = FENCE_RE.findall(text)
    rest = FENCE_RE.sub('', text)
    return fenced + [span[1:-1] for span in INLINE_CODE_RE.findall(rest)]


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # links
    text = text.replace('`', '').strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(text):
    """Every anchor of a Markdown page (duplicates numbered as GitHub
    does)."""
    seen, found = {}, set()
    for heading in HEADING_RE.findall(FENCE_RE.sub('', text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f'{base}-{count}')
    return found


def link_problems(text, page, root=ROOT):
    """Relative links and images of ``text`` (the page at ``page``) that do
    not resolve to a file, or name an anchor the target page lacks."""
    problems = []
    prose = strip_code(text)
    targets = LINK_RE.findall(prose) + HTML_SRC_RE.findall(prose)
    for target in targets:
        if re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, mailto:, ...
            continue
        path, _, anchor = target.partition('#')
        resolved = (page.parent / path).resolve() if path else page
        if 'shared/' in path.replace('\\', '/'):
            problems.append(f'{target}: points outside the repository')
            continue
        if not resolved.exists():
            problems.append(f'{target}: no such file')
            continue
        try:
            resolved.relative_to(root)
        except ValueError:
            problems.append(f'{target}: outside the repository')
            continue
        if anchor and resolved.suffix == '.md':
            if anchor not in anchors(resolved.read_text()):
                problems.append(f'{target}: no heading with anchor '
                                f'#{anchor} in {resolved.name}')
    return problems


def expand(path):
    """Shell-like brace expansion; a brace without a comma (a
    placeholder such as ``{method}``) and ``<...>`` match anything."""
    path = re.sub(r'<[^>]*>', '*', path)
    match = re.search(r'\{([^{}]*)\}', path)
    if not match:
        return [path]
    options = match.group(1).split(',') if ',' in match.group(1) else ['*']
    return [p for option in options
            for p in expand(path[:match.start()] + option +
                            path[match.end():])]


def code_path_problems(text, root=ROOT):
    """Repository paths named in code that match no file or folder."""
    problems = []
    for span in code_spans(text):
        for path in CODE_PATH_RE.findall(span):
            path = path.rstrip('.,:;')
            for candidate in expand(path):
                if not glob(str(root / candidate)):
                    problems.append(f'{path}: no such file or folder')
                    break
    return problems


def history_problems(text):
    """Dates and pointers outside the repository."""
    problems = [f'date {d}' for d in re.findall(
        r'\b20\d\d-[01]\d-[0-3]\d\b', text)]
    if '../shared' in text:
        problems.append('points at ../shared')
    return problems


def load_docs_tables():
    spec = importlib.util.spec_from_file_location(
        'docs_tables', ROOT / 'tools' / 'analysis' / 'docs_tables.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_links_and_images_resolve(page):
    assert link_problems(page.read_text(), page) == []


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_paths_named_in_code_exist(page):
    assert code_path_problems(page.read_text()) == []


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_no_dates_or_outside_pointers(page):
    assert history_problems(page.read_text()) == []


def test_readme_is_short():
    lines = (ROOT / 'README.md').read_text().count('\n')
    assert lines < README_MAX_LINES, f'README.md has {lines} lines'


def test_generated_tables_are_current():
    """The generated blocks equal what tools/analysis/docs_tables.py makes
    from the committed JSON (run it to update them)."""
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/docs_tables.py', '--check'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generated_blocks_are_present():
    """Every table the generator can make appears in a page."""
    text = ''.join(p.read_text() for p in PAGES)
    missing = [name for name in load_docs_tables().BLOCKS
               if f'<!-- generated:{name} -->' not in text]
    assert missing == []


def test_testing_page_lists_every_test_file():
    page = (ROOT / 'docs' / 'testing.md').read_text()
    missing = [p.name for p in sorted((ROOT / 'tests').glob('test_*.py'))
               if f'`{p.name}`' not in page]
    assert missing == [], f'not in docs/testing.md: {missing}'


# ------------------------------------------------- the checkers can fail
def test_checkers_find_broken_links(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'a.md').write_text('# Title\n\n## Some `code` here\n')
    page = tmp_path / 'README.md'
    text = ('[ok](docs/a.md#some-code-here) ![img](docs/missing.png) '
            '[anchor](docs/a.md#nope) [web](https://example.org/x) '
            '[up](../shared/spec.md) `[not a link](nowhere.md)`\n'
            '```\n[in code](nowhere.md)\n```\n')
    problems = link_problems(text, page, root=tmp_path)
    assert problems == [
        'docs/missing.png: no such file',
        'docs/a.md#nope: no heading with anchor #nope in a.md',
        '../shared/spec.md: points outside the repository']


def test_checkers_find_missing_paths(tmp_path):
    (tmp_path / 'configs' / 'coco').mkdir(parents=True)
    for size in 'tb':
        (tmp_path / 'configs' / 'coco' / f'm_swin-{size}_e3va.py').touch()
    text = ('```bash\npython tools/train.py configs/coco/m_swin-t_e3va.py\n'
            '```\n`configs/coco/m_swin-{t,b}_{method}.py` '
            '`configs/coco/m_swin-{t,s}_e3va.py` `configs/coco/*_e3va.py`.')
    (tmp_path / 'tools').mkdir()
    assert code_path_problems(text, root=tmp_path) == [
        'tools/train.py: no such file or folder',
        'configs/coco/m_swin-{t,s}_e3va.py: no such file or folder']
    (tmp_path / 'tools' / 'train.py').touch()
    assert len(code_path_problems(text, root=tmp_path)) == 1


def test_checkers_find_history_and_stale_tables():
    assert history_problems('Status (2026-12-05): done') == [
        'date 2026-12-05']
    docs_tables = load_docs_tables()
    current = docs_tables.render(
        '<!-- generated:study-selection -->\n'
        '<!-- /generated:study-selection -->\n')
    tampered = current.replace('of', 'out of', 1)
    assert tampered != current
    assert docs_tables.render(tampered) == current
    with pytest.raises(ValueError, match='unknown generated block'):
        docs_tables.render('<!-- generated:nope -->\n<!-- /generated:nope -->')
    with pytest.raises(ValueError, match='unbalanced'):
        docs_tables.render('<!-- generated:study-table -->\n')


def test_slug_matches_github():
    assert slug('Swin-L at 800x1333: the 11 GB question') == \
        'swin-l-at-800x1333-the-11-gb-question'
    assert slug('`frozen_dtype` on Swin-T') == 'frozen_dtype-on-swin-t'
    assert slug('E3VA+ (beyond the paper)') == 'e3va-beyond-the-paper'
    assert anchors('# A\n## A\n```\n# not a heading\n```\n') == {'a', 'a-1'}
