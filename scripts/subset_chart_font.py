#!/usr/bin/env python3
"""Builds assets/fonts/DejaVuSans-chart.ttf, the font Animator's charts are drawn with.

Animator (lib/d2l/animator.ts) draws d2l's training chart with echarts' SVG renderer and turns it
into PNG with resvg, which draws no text at all when it finds no font. So the chart's font ships
with torchbridge: DejaVu Sans, matplotlib's default font (d2l's figures use it), subset to the
characters charts need, to keep the file small.

Source font: DejaVu Sans 2.37 (DejaVuSans.ttf) from Debian's fonts-dejavu-core package
(version 2.37-6, https://packages.debian.org/bookworm/fonts-dejavu-core; upstream
https://dejavu-fonts.github.io/). Without that package installed, get the file with

    apt-get download fonts-dejavu-core && dpkg-deb -x fonts-dejavu-core_*.deb dejavu
    python3 scripts/subset_chart_font.py dejavu/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

Its license (Bitstream Vera's, DejaVu's changes in the public domain) is in
assets/fonts/LICENSE-DejaVu.txt, taken from the package's copyright file; the license allows
modified copies (a subset is one) whose names contain neither "Bitstream" nor "Vera".

Needs fontTools (pip install fonttools); tested with fontTools 4.68. The subset keeps:
- Basic Latin and Latin-1 (U+0020..U+007E, U+00A0..U+00FF): labels and legend entries;
- U+2212 MINUS SIGN (matplotlib writes negative tick labels with it);
- superscript digits, plus and minus (U+00B2, U+00B3, U+00B9, U+2070, U+2074..U+207B): the
  exponents of log-axis tick labels such as 10⁻²;
- a few common punctuation marks (dashes, curly quotes, ellipsis, bullet) for labels;
- the kerning (GPOS 'kern'), which resvg applies when shaping, as matplotlib kerns.
Hinting is dropped (resvg renders unhinted), and with it the size.

Alongside the font it writes DejaVuSans-chart.metrics.json: units per em, the ascent and descent
as matplotlib measures text (the top of 'l', the bottom of 'p'), the font's own ascender and
descender (hhea, where SVG's central baseline lies), and each character's advance
width and kerning pairs, which lib/d2l/chart-font.ts uses to measure text for the layout and for
echarts.
"""
import argparse
import hashlib
import json
import os
import sys

from fontTools import subset
from fontTools.ttLib import TTFont

DEFAULT_SOURCE = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'
# DejaVuSans.ttf of fonts-dejavu-core 2.37-6; another file is used only with --any-source.
SOURCE_SHA256 = 'abdc775b21b1bc470d50c97e790d276f2054b7504e56e5bd3e64f48d68582322'
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, 'assets', 'fonts')
FONT_NAME = 'DejaVuSans-chart.ttf'
METRICS_NAME = 'DejaVuSans-chart.metrics.json'

CODE_POINTS = sorted(
    set(range(0x20, 0x7F))
    | set(range(0xA0, 0x100))
    | {0x2212}
    | {0x00B2, 0x00B3, 0x00B9, 0x2070, *range(0x2074, 0x207C)}
    | {0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2026}
)


def kerning(pairs, cmap):
    """The kerning pairs among CODE_POINTS, as {left code: {adjustment: right characters}}.

    From the source's legacy 'kern' table (the one matplotlib's FreeType reads); the GPOS 'kern'
    feature kept in the subset, which resvg applies, holds the same pairs.
    """
    glyph_codes = {}
    for code in CODE_POINTS:
        glyph_codes.setdefault(cmap[code], []).append(code)
    table = {}
    for (left, right), value in sorted(pairs.items()):
        for left_code in glyph_codes.get(left, []):
            for right_code in glyph_codes.get(right, []):
                row = table.setdefault(str(left_code), {})
                row[str(value)] = row.get(str(value), '') + chr(right_code)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('source', nargs='?', default=DEFAULT_SOURCE, help='DejaVuSans.ttf (default %(default)s)')
    parser.add_argument('--any-source', action='store_true', help='accept a source font other than the known 2.37 file')
    args = parser.parse_args()

    with open(args.source, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SOURCE_SHA256 and not args.any_source:
        sys.exit(f'{args.source}: sha256 {digest}, not DejaVu Sans 2.37 of fonts-dejavu-core 2.37-6 '
                 f'({SOURCE_SHA256}); pass --any-source to use it anyway')

    options = subset.Options()
    options.hinting = False
    options.layout_features = ['kern']
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # copyright and names; the license is LICENSE-DejaVu.txt
    options.notdef_outline = True
    options.drop_tables += ['FFTM', 'MATH']
    font = TTFont(args.source, recalcTimestamp=False)  # the same source makes the same bytes
    source_kerning = kerning(font['kern'].kernTables[0].kernTable, font.getBestCmap())  # before subsetting drops them
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=CODE_POINTS)
    subsetter.subset(font)
    os.makedirs(OUT_DIR, exist_ok=True)
    font_path = os.path.join(OUT_DIR, FONT_NAME)
    font.save(font_path)

    # Metrics, read back from the subset so that they describe the shipped file.
    font = TTFont(font_path)
    cmap = font.getBestCmap()
    hmtx = font['hmtx']
    glyf = font['glyf']

    def extent(char):
        glyph = glyf[cmap[ord(char)]]
        glyph.recalcBounds(glyf)
        return glyph.yMin, glyph.yMax

    metrics = {
        'family': font['name'].getDebugName(1),
        'source': f'DejaVu Sans {font["head"].fontRevision:.2f}, subset by scripts/subset_chart_font.py',
        'unitsPerEm': font['head'].unitsPerEm,
        'ascent': extent('l')[1],
        'descent': -extent('p')[0],
        'lineAscent': font['hhea'].ascent,
        'lineDescent': font['hhea'].descent,
        'advances': {str(code): hmtx[cmap[code]][0] for code in CODE_POINTS if code in cmap},
        'missingAdvance': hmtx['.notdef'][0],
        'kerning': source_kerning,
    }
    missing = [f'U+{code:04X}' for code in CODE_POINTS if code not in cmap]
    if missing:
        sys.exit(f'the source font lacks {", ".join(missing)}')
    with open(os.path.join(OUT_DIR, METRICS_NAME), 'w', encoding='utf-8') as f:
        json.dump(metrics, f, indent=0, sort_keys=True, ensure_ascii=False)
        f.write('\n')
    print(f'{font_path}: {os.path.getsize(font_path)} bytes, {len(CODE_POINTS)} characters')


if __name__ == '__main__':
    main()
