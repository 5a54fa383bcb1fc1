/**
 * The font Animator's charts are drawn with: DejaVu Sans (matplotlib's default font, so d2l's
 * figures use it), subset to the characters charts need and shipped in `assets/fonts/` together
 * with its license, so that text is measured and drawn identically on every machine (resvg draws
 * no text at all without a font). `scripts/subset_chart_font.py` builds the font file and the
 * metrics file beside it, which this module reads to measure text the way resvg lays it out:
 * advance widths plus the font's kerning pairs.
 */
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';

/** The directory of the chart font and its license. */
export const CHART_FONT_DIR = path.join(__dirname, '..', '..', 'assets', 'fonts');
/** The font file (TrueType) that resvg loads; no system fonts are used. */
export const CHART_FONT_FILE = path.join(CHART_FONT_DIR, 'DejaVuSans-chart.ttf');
/** The font's metrics, written by `scripts/subset_chart_font.py` from the same font. */
export const CHART_FONT_METRICS_FILE = path.join(CHART_FONT_DIR, 'DejaVuSans-chart.metrics.json');
/** The family name of the font, as charts name it and as the font file declares it. */
export const CHART_FONT_FAMILY = 'DejaVu Sans';

/** The metrics file's content, in font units. */
interface MetricsFile {
  family: string;
  unitsPerEm: number;
  /** Top of 'l' above the baseline: matplotlib's ascent of a line of text. */
  ascent: number;
  /** Bottom of 'p' below the baseline: matplotlib's descent. */
  descent: number;
  /** The font's own ascender and descender (hhea; descender negative): where SVG's `central` baseline lies. */
  lineAscent: number;
  lineDescent: number;
  /** Advance widths by code point (decimal). */
  advances: Record<string, number>;
  /** The advance of a character the font lacks (drawn as the .notdef box). */
  missingAdvance: number;
  /** Kerning: left code point -> adjustment -> the right characters it applies to. */
  kerning: Record<string, Record<string, string>>;
}

/** The chart font's metrics, in units of the font size (1 = one em). */
export interface ChartFontMetrics {
  /** Height of the top of 'l' above the baseline; matplotlib's ascent of a line of text. */
  ascent: number;
  /** Depth of the bottom of 'p' below the baseline; matplotlib's descent. */
  descent: number;
  /**
   * How far SVG's `dominant-baseline="central"` (the middle of the font's ascender and
   * descender, as echarts writes text) lies above the alphabetic baseline.
   */
  central: number;
  /** Advance width of each character the font has, by code point. */
  advances: ReadonlyMap<number, number>;
  /** Advance width of a character the font lacks. */
  missingAdvance: number;
  /** Kerning adjustments by pair of code points, keyed `left * 0x110000 + right`. */
  kerning: ReadonlyMap<number, number>;
}

let metrics: ChartFontMetrics | undefined;

/**
 * The chart font's metrics, read from the metrics file on first use.
 * @throws Error naming the file when it is missing or unreadable
 */
export function chartFontMetrics(): ChartFontMetrics {
  if (metrics) return metrics;
  let file: MetricsFile;
  try {
    file = JSON.parse(readFileSync(CHART_FONT_METRICS_FILE, 'utf8')) as MetricsFile;
  } catch (error) {
    throw new Error(`the chart font's metrics ${CHART_FONT_METRICS_FILE} cannot be read (${(error as Error).message}); ` +
      'torchbridge ships them in assets/fonts/');
  }
  if (file.family !== CHART_FONT_FAMILY) throw new Error(`${CHART_FONT_METRICS_FILE}: family ${file.family}, not ${CHART_FONT_FAMILY}`);
  const em = file.unitsPerEm;
  const advances = new Map<number, number>();
  for (const [code, advance] of Object.entries(file.advances)) advances.set(Number(code), advance / em);
  const kerning = new Map<number, number>();
  for (const [left, row] of Object.entries(file.kerning)) {
    for (const [adjustment, rights] of Object.entries(row)) {
      for (const right of rights) kerning.set(Number(left) * 0x110000 + (right.codePointAt(0) ?? 0), Number(adjustment) / em);
    }
  }
  metrics = {
    ascent: file.ascent / em,
    descent: file.descent / em,
    central: (file.lineAscent + file.lineDescent) / 2 / em,
    advances,
    missingAdvance: file.missingAdvance / em,
    kerning,
  };
  return metrics;
}

/** Width of `text` in the chart font at `size` pixels: advances plus kerning, as resvg shapes it. */
export function textWidth(text: string, size: number): number {
  const { advances, missingAdvance, kerning } = chartFontMetrics();
  let width = 0;
  let previous: number | undefined;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    width += advances.get(code) ?? missingAdvance;
    if (previous !== undefined) width += kerning.get(previous * 0x110000 + code) ?? 0;
    previous = code;
  }
  return width * size;
}

let fontChecked = false;

/**
 * The font file's path, checked to exist on first use: resvg would silently draw no text
 * without it.
 * @throws Error naming the file when it is missing
 */
export function chartFontFile(): string {
  if (!fontChecked) {
    if (!existsSync(CHART_FONT_FILE)) throw new Error(`the chart font ${CHART_FONT_FILE} is missing; torchbridge ships it in assets/fonts/`);
    fontChecked = true;
  }
  return CHART_FONT_FILE;
}
