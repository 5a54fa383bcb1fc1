import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inflateSync } from 'zlib';
import { Resvg } from '@resvg/resvg-js';
import { Animator } from '../lib/d2l/animator';
import { crc32 } from '../lib/serialization/zip';
import { CHART_FONT_DIR, CHART_FONT_FAMILY, CHART_FONT_FILE, chartFontMetrics, textWidth } from '../lib/d2l/chart-font';

// ---- What the tests read back: a small XML tree, SVG geometry and a PNG decoder, written here ----

/** An element of an XML document: name, attributes (entities decoded), text, children. */
interface Element {
  name: string;
  attributes: Record<string, string>;
  /** The text directly inside, entities decoded. */
  text: string;
  children: Element[];
  parent?: Element;
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) =>
    entity[0] === '#' ? String.fromCodePoint(entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : Number(entity.slice(1))) : named[entity]);
}

/**
 * Parses `xml`, asserting that it is one well-formed element tree: balanced tags, quoted and
 * unrepeated attributes, escaped text (CDATA sections allowed).
 */
function parseXml(xml: string): Element {
  const entity = /&(?!(?:#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);)/i;
  const token = /<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  let at = 0;
  const declaration = /^<\?xml [^?]*\?>\s*/.exec(xml);
  if (declaration) at = declaration[0].length;
  const stack: Element[] = [];
  let root: Element | undefined;
  while (at < xml.length) {
    token.lastIndex = at;
    const match = token.exec(xml);
    assert.ok(match, `not XML at ${at}: ${JSON.stringify(xml.slice(at, at + 40))}`);
    const [whole, cdata, closing, name, attributes, selfClosing, text] = match;
    const top = stack[stack.length - 1];
    if (cdata !== undefined) {
      assert.ok(top, 'CDATA outside the root');
      top.text += cdata;
    } else if (text !== undefined) {
      assert.ok(top || text.trim() === '', `text outside the root: ${JSON.stringify(text)}`);
      assert.ok(!entity.test(text), `unescaped & in ${JSON.stringify(text)}`);
      if (top) top.text += decodeEntities(text);
    } else if (closing) {
      assert.equal(stack.pop()?.name, name, `</${name}> closes nothing open`);
    } else {
      assert.ok(!entity.test(attributes), `unescaped & in <${name}${attributes}>`);
      const pairs = [...attributes.matchAll(/([\w:.-]+)="([^"]*)"/g)];
      assert.equal(new Set(pairs.map((p) => p[1])).size, pairs.length, `repeated attribute in <${name}>`);
      const element: Element = { name, attributes: Object.fromEntries(pairs.map((p) => [p[1], decodeEntities(p[2])])), text: '', children: [], parent: top };
      if (top) top.children.push(element);
      else {
        assert.equal(root, undefined, 'one root element');
        root = element;
      }
      if (!selfClosing) stack.push(element);
    }
    at += whole.length;
  }
  assert.deepEqual(stack.map((e) => e.name), [], 'unclosed elements');
  assert.ok(root, 'a root element');
  return root;
}

/** All elements under `root` (itself included), in document order. */
function descendants(root: Element): Element[] {
  return [root, ...root.children.flatMap(descendants)];
}

type Point = [number, number];
type Matrix = [number, number, number, number, number, number];

/** An element's `transform` (translate, scale, matrix and rotate, as echarts writes them) as a matrix. */
function transformOf(element: Element): Matrix {
  let m: Matrix = [1, 0, 0, 1, 0, 0];
  const multiply = (a: Matrix, b: Matrix): Matrix => [
    a[0] * b[0] + a[2] * b[1], a[1] * b[0] + a[3] * b[1], a[0] * b[2] + a[2] * b[3], a[1] * b[2] + a[3] * b[3],
    a[0] * b[4] + a[2] * b[5] + a[4], a[1] * b[4] + a[3] * b[5] + a[5],
  ];
  for (const [, kind, args] of (element.attributes.transform ?? '').matchAll(/(\w+)\(([^)]*)\)/g)) {
    const v = args.split(/[\s,]+/).filter(Boolean).map(Number);
    if (kind === 'translate') m = multiply(m, [1, 0, 0, 1, v[0], v[1] ?? 0]);
    else if (kind === 'scale') m = multiply(m, [v[0], 0, 0, v[1] ?? v[0], 0, 0]);
    else if (kind === 'matrix') m = multiply(m, v as Matrix);
    else if (kind === 'rotate') {
      const r = (v[0] * Math.PI) / 180;
      m = multiply(m, [Math.cos(r), Math.sin(r), -Math.sin(r), Math.cos(r), 0, 0]);
    } else assert.fail(`transform ${kind}`);
  }
  return m;
}

/** The matrix from an element's coordinates to the document's: its transform and its ancestors'. */
function toDocument(element: Element): (p: Point) => Point {
  const chain: Matrix[] = [];
  for (let e: Element | undefined = element; e; e = e.parent) chain.push(transformOf(e));
  return (p) => chain.reduce<Point>(([x, y], m) => [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]], p);
}

/**
 * The subpaths of a path's `d` (M, L, H, V, A, Z, absolute and relative), as vertices in document
 * coordinates (arcs by their end points).
 */
function subpaths(element: Element): Point[][] {
  const map = toDocument(element);
  const runs: Point[][] = [];
  let current: Point = [0, 0];
  let start: Point = [0, 0];
  for (const [, command, args] of (element.attributes.d ?? '').matchAll(/([MLHVAZmlhvaz])([^MLHVAZmlhvaz]*)/g)) {
    const v = args.trim().split(/[\s,]+/).filter(Boolean).map(Number);
    const relative = command === command.toLowerCase();
    const base = relative ? current : [0, 0];
    const kind = command.toUpperCase();
    const step = { M: 2, L: 2, H: 1, V: 1, A: 7, Z: 0 }[kind] ?? assert.fail(`path command ${command}`);
    if (kind === 'Z') {
      runs[runs.length - 1].push(map(start));
      current = start;
      continue;
    }
    for (let i = 0; i < v.length; i += step) {
      if (kind === 'H') current = [base[0] + v[i], current[1]];
      else if (kind === 'V') current = [current[0], base[1] + v[i]];
      else current = [(relative ? current[0] : 0) + v[i + step - 2], (relative ? current[1] : 0) + v[i + step - 1]];
      if (kind === 'M' && i === 0) {
        start = current;
        runs.push([]);
      }
      runs[runs.length - 1].push(map(current));
    }
  }
  return runs;
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function boundsOf(points: Point[]): Box {
  return {
    left: Math.min(...points.map((p) => p[0])), top: Math.min(...points.map((p) => p[1])),
    right: Math.max(...points.map((p) => p[0])), bottom: Math.max(...points.map((p) => p[1])),
  };
}

/** The chart's parts, as the tests find them in its SVG. */
interface Chart {
  root: Element;
  /** The axes frame: the black rectangle of the four spines. */
  plot: Box;
  /** Paths drawn with a visible stroke. */
  strokes: Element[];
  /** Visible series lines: stroked paths with vertices inside a clip group. */
  lines: Element[];
  /** Text elements, with their content and anchor point in document coordinates. */
  texts: { element: Element; text: string; at: Point }[];
  /** The legend's box (its rounded, translucent white background), when there is a legend. */
  legend?: Box;
}

const visibleStroke = (e: Element): boolean =>
  e.attributes.stroke !== undefined && e.attributes.stroke !== 'none' && Number(e.attributes['stroke-width'] ?? 1) > 0 && e.attributes['stroke-opacity'] !== '0';

function readChart(svg: string): Chart {
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  const all = descendants(root);
  const paths = all.filter((e) => e.name === 'path' && e.parent?.name !== 'clipPath');
  const strokes = paths.filter(visibleStroke);
  const frames = strokes.filter((e) => e.attributes.stroke === '#000000' && e.attributes.fill === 'none' && /Z\s*$/.test(e.attributes.d ?? ''));
  assert.equal(frames.length, 1, 'one axes frame');
  const plot = boundsOf(subpaths(frames[0])[0]);
  const lines = strokes.filter((e) => e.parent?.name === 'g' && e.parent.attributes['clip-path'] !== undefined && subpaths(e).flat().length > 0);
  const texts = all.filter((e) => e.name === 'text').map((element) => ({
    element,
    text: element.text,
    at: toDocument(element)([Number(element.attributes.x ?? 0), Number(element.attributes.y ?? 0)]),
  }));
  const legendBoxes = paths.filter((e) => e.attributes.fill === 'rgb(255,255,255)' && e.attributes['fill-opacity'] === '0.8');
  assert.ok(legendBoxes.length <= 1, 'at most one legend box');
  return { root, plot, strokes, lines, texts, legend: legendBoxes[0] && boundsOf(subpaths(legendBoxes[0]).flat()) };
}

/** A dash pattern as echarts writes it, rounded to 2 decimals. */
const dashes = (e: Element): string | undefined => e.attributes['stroke-dasharray']?.split(/[\s,]+/).map((v) => Math.round(Number(v) * 100) / 100).join(' ');

const near = (a: number, b: number, tolerance: number, what: string): void => assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} is not within ${tolerance} of ${b}`);

/** Whether the segment a-b meets the box (Liang-Barsky). */
function segmentMeets(box: Box, a: Point, b: Point): boolean {
  let t0 = 0;
  let t1 = 1;
  const d = [b[0] - a[0], b[1] - a[1]];
  for (const [p, q] of [[-d[0], a[0] - box.left], [d[0], box.right - a[0]], [-d[1], a[1] - box.top], [d[1], box.bottom - a[1]]]) {
    if (p === 0) {
      if (q < 0) return false;
    } else if (p < 0) t0 = Math.max(t0, q / p);
    else t1 = Math.min(t1, q / p);
  }
  return t0 <= t1;
}


interface Image {
  width: number;
  height: number;
  /** [r, g, b, a] of the pixel at (x, y) (rounded to whole pixels). */
  pixel(x: number, y: number): [number, number, number, number];
}

/** Reads an 8-bit RGB or RGBA PNG, asserting its structure on the way: signature, chunk CRCs, sizes. */
function decodePng(png: Buffer): Image {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    assert.equal(png.readUInt32BE(at + 8 + length), crc32(png.subarray(at + 4, at + 8 + length)), `CRC of ${type}`);
    chunks.push({ type, data: png.subarray(at + 8, at + 8 + length) });
    at += length + 12;
  }
  assert.equal(chunks[0].type, 'IHDR');
  assert.equal(chunks[chunks.length - 1].type, 'IEND');
  const header = chunks[0].data;
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const colorType = header[9];
  assert.equal(header[8], 8, 'bit depth 8');
  assert.ok(colorType === 2 || colorType === 6, `colour type ${colorType}: RGB or RGBA`);
  assert.deepEqual([...header.subarray(10)], [0, 0, 0], 'no interlace');
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * bpp;
  assert.equal(raw.length, height * (stride + 1), 'inflated image data size');
  // Undo the per-row filters (PNG spec, section 9).
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; ++y) {
    const filter = raw[y * (stride + 1)];
    assert.ok(filter <= 4, `filter type ${filter}`);
    for (let i = 0; i < stride; ++i) {
      const value = raw[y * (stride + 1) + 1 + i];
      const a = i >= bpp ? data[y * stride + i - bpp] : 0;
      const b = y > 0 ? data[(y - 1) * stride + i] : 0;
      const c = i >= bpp && y > 0 ? data[(y - 1) * stride + i - bpp] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      data[y * stride + i] = (value + [0, a, b, (a + b) >> 1, paeth][filter]) & 255;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => {
      const at = (Math.round(y) * width + Math.round(x)) * bpp;
      return [data[at], data[at + 1], data[at + 2], bpp === 4 ? data[at + 3] : 255];
    },
  };
}

function hex(color: string): [number, number, number] {
  const n = parseInt(color.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

/** Whether a pixel within one pixel of (x, y) has `color`, each channel within `tolerance`. */
function colorNear(image: Image, x: number, y: number, color: string, tolerance = 24): boolean {
  const want = hex(color);
  for (let dy = -1; dy <= 1; ++dy) {
    for (let dx = -1; dx <= 1; ++dx) {
      const got = image.pixel(Math.floor(x) + dx, Math.floor(y) + dy);
      if (want.every((v, k) => Math.abs(got[k] - v) <= tolerance)) return true;
    }
  }
  return false;
}

/** How many pixels of the box are dark (text, spines), and how many are not white. */
function ink(image: Image, box: Box): { dark: number; nonWhite: number } {
  let dark = 0;
  let nonWhite = 0;
  for (let y = Math.max(0, Math.ceil(box.top)); y <= Math.min(image.height - 1, Math.floor(box.bottom)); ++y) {
    for (let x = Math.max(0, Math.ceil(box.left)); x <= Math.min(image.width - 1, Math.floor(box.right)); ++x) {
      const [r, g, b] = image.pixel(x, y);
      if (r < 128 && g < 128 && b < 128) ++dark;
      if (r < 250 || g < 250 || b < 250) ++nonWhite;
    }
  }
  return { dark, nonWhite };
}

// ---- The chart train_ch13 draws ----------------------------------------------------------------

const LEGEND = ['train loss', 'train acc', 'test acc'];
// matplotlib's colours for d2l's fmts '-', 'm--', 'g-.': cycle colour C0, 'm', 'g'.
const COLORS = ['#1f77b4', '#bf00bf', '#008000'];
const NUM_EPOCHS = 3;
// matplotlib at 100 dpi: 1.5 pt lines, 10 pt text.
const LINE_WIDTH = (1.5 * 100) / 72;
const FONT_SIZE = (10 * 100) / 72;

/**
 * d2l's train_ch13 loop, its metrics replaced by simple functions of x: the series stay apart
 * (loss <= 0.38 < test acc in 0.45..0.55 < train acc >= 0.62), so their pixels can be told apart.
 */
function trainCh13Chart(numBatches: number, options: { width?: number; height?: number } = {}): Animator {
  const animator = new Animator({ xlabel: 'epoch', xlim: [1, NUM_EPOCHS], ylim: [0, 1], legend: LEGEND, ...options });
  for (let epoch = 0; epoch < NUM_EPOCHS; ++epoch) {
    for (let i = 0; i < numBatches; ++i) {
      if ((i + 1) % Math.floor(numBatches / 5) === 0 || i === numBatches - 1) {
        const x = epoch + (i + 1) / numBatches;
        animator.add(x, [0.4 - 0.1 * x, 0.6 + 0.1 * x, null]);
      }
    }
    animator.add(epoch + 1, [null, null, 0.4 + 0.05 * (epoch + 1)]);
  }
  return animator;
}

/** Series lines of a given colour. */
const linesOf = (chart: Chart, color: string): Element[] => chart.lines.filter((e) => e.attributes.stroke === color);

/** Text elements with this content. */
const textsOf = (chart: Chart, text: string): Chart['texts'] => chart.texts.filter((t) => t.text === text);

describe('Animator (d2l)', () => {
  describe('add', () => {
    it("keeps the series of train_ch13's calls as d2l does, skipping null", () => {
      // 12 batches: num_batches // 5 == 2, so points after batches 2, 4, ..., 12 of each epoch.
      const animator = new Animator({ legend: LEGEND });
      animator.add(1 / 6, [0.5, 0.25, null]);
      assert.deepEqual(animator.series(), [
        { name: 'train loss', points: [[1 / 6, 0.5]] },
        { name: 'train acc', points: [[1 / 6, 0.25]] },
        { name: 'test acc', points: [] },
      ]);
      const chart = trainCh13Chart(12);
      const x = [0, 1, 2].flatMap((epoch) => [1, 2, 3, 4, 5, 6].map((k) => epoch + k / 6));
      const series = chart.series();
      assert.deepEqual(series.map((s) => s.name), LEGEND);
      assert.deepEqual(series[0].points.map((p) => p[0]), x);
      assert.deepEqual(series[1].points.map((p) => p[0]), x);
      series[0].points.forEach(([px, py]) => assert.equal(py, 0.4 - 0.1 * px));
      series[1].points.forEach(([px, py]) => assert.equal(py, 0.6 + 0.1 * px));
      assert.deepEqual(series[2].points, [[1, 0.45], [2, 0.5], [3, 0.55]]);
    });

    it('takes one x per series, fixes the series count at the first call, and copies out', () => {
      const animator = new Animator();
      animator.add([1, 2], [10, null]);
      animator.add([3, 4], [null, 40]);
      animator.add(5, [50]);
      const series = animator.series();
      assert.deepEqual(series, [
        { name: '', points: [[1, 10], [5, 50]] },
        { name: '', points: [[4, 40]] },
      ]);
      series[0].points[0][1] = -1;
      assert.equal(animator.series()[0].points[0][1], 10);
      assert.throws(() => animator.add(6, [1, 2, 3]), /3 y values, but the chart has 2 series/);
      assert.throws(() => animator.add([6], [1, 2]), /1 x values for 2 y values/);
    });

    it('rejects bad options', () => {
      assert.throws(() => new Animator({ xlim: [1, 1] }), /xlim/);
      assert.throws(() => new Animator({ ylim: [0, NaN] }), /ylim/);
      assert.throws(() => new Animator({ ylim: [0, 1], yscale: 'log' }), /positive on a log axis/);
      assert.throws(() => new Animator({ fmts: ['-', 'q'] }), /unknown character "q"/);
      assert.throws(() => new Animator({ fmts: ['r--:'] }), /two line styles/);
      assert.throws(() => new Animator({ fmts: ['rg'] }), /two colours/);
      assert.throws(() => new Animator({ width: 10.5 }), /width/);
      assert.throws(() => new Animator({ height: 8 }), /height/);
    });
  });

  describe('the chart font', () => {
    it('ships DejaVu Sans, subset, with its license, and its metrics describe that file', () => {
      const size = fs.statSync(CHART_FONT_FILE).size;
      assert.ok(size > 5000 && size < 100_000, `font file of ${size} bytes`);
      const license = fs.readFileSync(path.join(CHART_FONT_DIR, 'LICENSE-DejaVu.txt'), 'utf8');
      assert.match(license, /Bitstream Vera Fonts Copyright/);
      assert.match(license, /DejaVu changes are in public domain/);
      // The TrueType name table spells the family in UTF-16BE.
      assert.ok(fs.readFileSync(CHART_FONT_FILE).includes(Buffer.from(CHART_FONT_FAMILY, 'utf16le').swap16()), 'the family name in the font');
      const metrics = chartFontMetrics();
      assert.ok(metrics.ascent > 0.7 && metrics.ascent < 0.8 && metrics.descent > 0.15 && metrics.descent < 0.25);
      for (const char of '0123456789.\u2212\u00b9\u00b2\u00b3\u2070\u2074\u207b abcxyzABCXYZ\u00e9\u00fc') {
        assert.ok(metrics.advances.has(char.codePointAt(0) ?? 0), `the font has ${JSON.stringify(char)}`);
      }
    });

    it('measures text as resvg lays it out in that font, kerning included', () => {
      // The ink of '|' + text + '|' is the advance of text wider than that of '||'.
      const inkWidth = (text: string): number => {
        const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="3000" height="200"><text x="10" y="150" font-size="100" font-family="${CHART_FONT_FAMILY}">${text}</text></svg>`;
        const box = new Resvg(svg, { font: { fontFiles: [CHART_FONT_FILE], loadSystemFonts: false } }).getBBox();
        assert.ok(box, `resvg drew ${text}`);
        return box.width;
      };
      const bars = inkWidth('||');
      for (const text of ['train loss', 'epoch', 'AVAToWa', '10\u207b\u00b2', '\u22120.25', 'r\u00e9sum\u00e9']) {
        near(textWidth(text, 100), inkWidth(`|${text}|`) - bars, 0.5, JSON.stringify(text));
      }
      // kerning counts: 'AV' is narrower than 'A' and 'V' apart
      assert.ok(textWidth('AV', 100) < textWidth('A', 100) + textWidth('V', 100) - 3);
    });
  });

  describe('toSVG', () => {
    const data = trainCh13Chart(10).series();
    const chart = readChart(trainCh13Chart(10).toSVG());
    const { plot } = chart;
    const width = plot.right - plot.left;
    const height = plot.bottom - plot.top;
    const toPixel = ([x, y]: Point): Point => [plot.left + ((x - 1) / (NUM_EPOCHS - 1)) * width, plot.bottom - y * height];

    it('is a well-formed SVG document of the requested size', () => {
      assert.equal(chart.root.attributes.xmlns, 'http://www.w3.org/2000/svg');
      assert.equal(chart.root.attributes.width, '350');
      assert.equal(chart.root.attributes.height, '250');
      assert.equal(chart.root.attributes.viewBox, '0 0 350 250');
      assert.ok(plot.left > 20 && plot.top > 5 && plot.right < 350 && plot.bottom < 220, `plot area ${JSON.stringify(plot)}`);
      const custom = readChart(new Animator({ width: 640, height: 480 }).toSVG());
      assert.equal(custom.root.attributes.viewBox, '0 0 640 480');
      // matplotlib's figure scaled: 10 pt text at 640 / 3.5 = 183 dpi
      const size = Number(/font-size:([\d.]+)px/.exec(custom.texts[0].element.attributes.style ?? '')?.[1]);
      near(size, (10 * 640) / 3.5 / 72, 0.01, 'font size at 640 x 480');
    });

    it("draws each series as a path in its colour, with matplotlib's dash pattern, through xlim and ylim", () => {
      chart.lines.forEach((line) => assert.ok(COLORS.includes(line.attributes.stroke), `a series line in ${line.attributes.stroke}`));
      COLORS.forEach((color, i) => {
        const lines = linesOf(chart, color);
        assert.equal(lines.length, 1, `one line for series ${i}`);
        near(Number(lines[0].attributes['stroke-width']), LINE_WIDTH, 0.01, `line width of series ${i}`);
        const drawn = subpaths(lines[0]).flat();
        assert.equal(drawn.length, i < 2 ? 5 * NUM_EPOCHS : NUM_EPOCHS, `points of series ${i}`);
        drawn.forEach((p, j) => {
          const want = toPixel(data[i].points[j]);
          near(p[0], want[0], 0.06, `x of point ${j} of series ${i}`);
          near(p[1], want[1], 0.06, `y of point ${j} of series ${i}`);
        });
      });
      // matplotlib's patterns for 1.5 pt lines at 100 dpi: solid, (3.7, 1.6) and (6.4, 1.6, 1, 1.6)
      // times 1.5 pt, at 100/72 pixels a point; dashes with flat ends, solid lines with square ones.
      assert.deepEqual(COLORS.map((color) => dashes(linesOf(chart, color)[0])), [undefined, '7.71 3.33', '13.33 3.33 2.08 3.33']);
      assert.deepEqual(COLORS.map((color) => linesOf(chart, color)[0].attributes['stroke-linecap'] ?? 'butt'), ['square', 'butt', 'butt']);
    });

    it('clips the series to the plot area', () => {
      for (const line of chart.lines) {
        const clip = /url\(#([^)]+)\)/.exec(line.parent?.attributes['clip-path'] ?? '')?.[1];
        const clipPath = descendants(chart.root).find((e) => e.name === 'clipPath' && e.attributes.id === clip);
        assert.ok(clipPath, `clip path ${clip}`);
        const box = boundsOf(subpaths(clipPath.children[0]).flat());
        // echarts widens the clip by about a line width, so that lines along the edges stay whole
        for (const side of ['left', 'top', 'right', 'bottom'] as const) near(box[side], plot[side], 2.5, `clip ${side}`);
      }
    });

    it('has ticks and grid lines at the ticks matplotlib places, labelled, within xlim and ylim', () => {
      const xTicks = ['1.0', '1.5', '2.0', '2.5', '3.0'];
      const yTicks = ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0'];
      const below = chart.texts.filter((t) => t.element.attributes['text-anchor'] === 'middle' && t.at[1] > plot.bottom && t.at[1] < plot.bottom + 2 * FONT_SIZE);
      const left = chart.texts.filter((t) => t.element.attributes['text-anchor'] === 'end' && t.at[0] < plot.left);
      assert.deepEqual(below.map((t) => t.text), xTicks);
      assert.deepEqual(left.map((t) => t.text), yTicks);
      below.forEach((t) => near(t.at[0], toPixel([Number(t.text), 0])[0], 0.5, `x tick label ${t.text}`));
      left.forEach((t) => near(t.at[1], toPixel([1, Number(t.text)])[1], 0.5, `y tick label ${t.text}`));
      for (const t of [...below, ...left]) assert.equal(t.element.attributes.fill, '#000000');
      // Grid lines (grey) across the plot area, tick marks (black, 3.5 pt) outside it, at each tick.
      const segments = chart.strokes.map((e) => ({ color: e.attributes.stroke, points: subpaths(e).flat() })).filter((s) => s.points.length === 2);
      const tickLength = (3.5 * 100) / 72;
      for (const t of below) {
        const x = toPixel([Number(t.text), 0])[0];
        const at = (s: { points: Point[] }): boolean => s.points.every((p) => Math.abs(p[0] - x) <= 0.75);
        assert.ok(segments.some((s) => s.color === '#b0b0b0' && at(s) && boundsOf(s.points).bottom - boundsOf(s.points).top > height - 1), `grid line at x = ${t.text}`);
        assert.ok(segments.some((s) => s.color === '#000000' && at(s) && Math.abs(boundsOf(s.points).top - plot.bottom) < 1
          && Math.abs(boundsOf(s.points).bottom - plot.bottom - tickLength) < 0.2), `tick at x = ${t.text}`);
      }
      for (const t of left) {
        const y = toPixel([1, Number(t.text)])[1];
        const at = (s: { points: Point[] }): boolean => s.points.every((p) => Math.abs(p[1] - y) <= 0.75);
        assert.ok(segments.some((s) => s.color === '#b0b0b0' && at(s) && boundsOf(s.points).right - boundsOf(s.points).left > width - 1), `grid line at y = ${t.text}`);
        assert.ok(segments.some((s) => s.color === '#000000' && at(s) && Math.abs(boundsOf(s.points).right - plot.left) < 1), `tick at y = ${t.text}`);
      }
    });

    it('labels the x axis under the tick labels, centred', () => {
      const [label] = textsOf(chart, 'epoch');
      assert.ok(label, 'the x label');
      near(label.at[0], (plot.left + plot.right) / 2, 0.5, 'x label centre');
      const tickLabelY = chart.texts.find((t) => t.text === '2.0')?.at[1] ?? NaN;
      assert.ok(label.at[1] > tickLabelY + FONT_SIZE && label.at[1] < 250, `x label at y = ${label.at[1]}, tick labels at ${tickLabelY}`);
    });

    it('has a legend with the entries, handles in the series styles, inside the plot area', () => {
      for (const entry of LEGEND) assert.equal(textsOf(chart, entry).length, 1, entry);
      const legend = chart.legend;
      assert.ok(legend, 'legend box');
      // matplotlib's borderaxespad, 0.5 font sizes, from the spines at least
      const gap = 0.5 * FONT_SIZE - 0.5;
      assert.ok(legend.left >= plot.left + gap && legend.right <= plot.right - gap && legend.top >= plot.top + gap && legend.bottom <= plot.bottom - gap,
        `legend ${JSON.stringify(legend)} in ${JSON.stringify(plot)}`);
      const entries = LEGEND.map((entry) => textsOf(chart, entry)[0]);
      entries.forEach((t, i) => {
        assert.ok(t.at[0] > legend.left && t.at[0] < legend.right && t.at[1] > legend.top && t.at[1] < legend.bottom, `${t.text} in the legend`);
        if (i > 0) assert.ok(t.at[1] > entries[i - 1].at[1], 'entries top to bottom');
        // the handle: a line 2 font sizes long left of the text, in the series' colour and dashes
        const handle = chart.strokes.find((e) => e.attributes.stroke === COLORS[i] && !chart.lines.includes(e));
        assert.ok(handle, `handle of ${t.text}`);
        const [a, b] = subpaths(handle).flat();
        near(Math.abs(b[0] - a[0]), 2 * FONT_SIZE, 0.1, 'handle length');
        near(a[1], t.at[1], 0.5, 'handle beside its text');
        assert.ok(Math.max(a[0], b[0]) < t.at[0] && Math.min(a[0], b[0]) > legend.left, 'handle left of its text');
        assert.equal(dashes(handle), dashes(linesOf(chart, COLORS[i])[0]));
      });
    });

    it("puts the legend where it covers the least data (matplotlib's loc='best')", () => {
      // Data along the top: the upper corners are taken, the lower left is the first free place.
      const animator = new Animator({ xlim: [0, 10], ylim: [0, 1], legend: ['high'] });
      for (let x = 0; x <= 10; ++x) animator.add(x, [0.9 + 0.005 * x]);
      const top = readChart(animator.toSVG());
      assert.ok(top.legend);
      const middle = (top.plot.left + top.plot.right) / 2;
      assert.ok(top.legend.right < middle && top.legend.top > (top.plot.top + top.plot.bottom) / 2, `legend ${JSON.stringify(top.legend)} in the lower left`);
      const [line] = top.lines;
      const vertices = subpaths(line).flat();
      const legend = top.legend;
      assert.ok(!vertices.some((p, i) => i > 0 && segmentMeets(legend, vertices[i - 1], p)), 'the legend covers no line');
      // Data along the bottom: the upper right, matplotlib's first choice.
      const low = new Animator({ xlim: [0, 10], ylim: [0, 1], legend: ['low'] });
      for (let x = 0; x <= 10; ++x) low.add(x, [0.1]);
      const bottom = readChart(low.toSVG());
      assert.ok(bottom.legend && bottom.legend.left > middle && bottom.legend.bottom < (bottom.plot.top + bottom.plot.bottom) / 2, 'upper right');
    });

    it('autoscales without xlim/ylim as matplotlib does: data range plus 5%, NaN left out and breaking the line', () => {
      const animator = new Animator();
      for (const [x, y] of [[0, NaN], [1, 0], [3, 1], [4, NaN], [5, 0.5], [6, 0.25]]) animator.add(x, [y]);
      const out = readChart(animator.toSVG());
      // xlim (0.75, 6.25), ylim (-0.05, 1.05): the NaN points count for neither.
      const [w, h] = [out.plot.right - out.plot.left, out.plot.bottom - out.plot.top];
      const expected = [[[1, 0], [3, 1]], [[5, 0.5], [6, 0.25]]].map((run) => run.map(([x, y]) =>
        [out.plot.left + ((x - 0.75) / 5.5) * w, out.plot.bottom - ((y + 0.05) / 1.1) * h]));
      assert.equal(out.lines.length, 1);
      const runs = subpaths(out.lines[0]);
      assert.equal(runs.length, 2, 'the NaN at x = 4 splits the line');
      runs.forEach((run, i) => run.forEach((p, j) => p.forEach((v, k) => near(v, expected[i][j][k], 0.06, `point ${j} of run ${i}`))));
      // matplotlib's ticks for those limits
      const labels = out.texts.map((t) => t.text);
      for (const tick of ['1', '2', '3', '4', '5', '6', '0.0', '0.2', '0.4', '0.6', '0.8', '1.0']) assert.ok(labels.includes(tick), `tick ${tick} in ${labels}`);
      assert.ok(!labels.includes('0') && !labels.includes('7') && !labels.includes('1.2'), 'no tick outside the limits');
      // negative ticks with matplotlib's minus sign
      const negative = new Animator();
      negative.add(0, [-2]);
      negative.add(1, [2]);
      assert.ok(readChart(negative.toSVG()).texts.some((t) => t.text === '\u22122'), 'tick \u22122');
    });

    it('widens a single value as matplotlib does, and draws charts without data', () => {
      const single = new Animator();
      single.add(2, [3]);
      const labels = readChart(single.toSVG()).texts.map((t) => t.text);
      // nonsingular: x in (1.9, 2.1), y in (2.85, 3.15), plus margins
      assert.ok(labels.includes('2.00') && labels.includes('3.0'), labels.join('|'));
      const empty = readChart(new Animator({ legend: ['nothing'] }).toSVG());
      assert.deepEqual(empty.lines, []);
      assert.equal(empty.legend, undefined, 'no series, no legend');
      assert.ok(empty.texts.some((t) => t.text === '0.0') && empty.texts.some((t) => t.text === '1.0'), 'limits (0, 1)');
    });

    it('keeps legend entries of empty series and repeated names; series past the formats take cycle colours', () => {
      const animator = new Animator({ legend: ['a', 'a', 'c'], fmts: ['-', 'm--'] });
      animator.add(1, [null, 0.5, 0.1, 0.7, 0.9]);
      animator.add(2, [null, 0.6, 0.2, 0.8, 1]);
      const out = readChart(animator.toSVG());
      assert.equal(textsOf(out, 'a').length, 2);
      assert.equal(textsOf(out, 'c').length, 1);
      // series 0 (C0) has no points: no line; 1 'm--'; 2..4 solid, C1, C2, C3
      assert.deepEqual(out.lines.map((l) => l.attributes.stroke), ['#bf00bf', '#ff7f0e', '#2ca02c', '#d62728']);
      assert.ok(out.strokes.some((e) => e.attributes.stroke === '#1f77b4'), "the empty series' legend handle");
    });

    it('writes log axes as matplotlib does: decades with superscript exponents, minor ticks, no points <= 0', () => {
      const animator = new Animator({ ylabel: 'loss <&>', legend: ['a "b"'], yscale: 'log', ylim: [0.01, 10], fmts: ['go'] });
      for (const [x, y] of [[1, 10], [2, 1], [3, 0.01], [4, -1], [5, 0]]) animator.add(x, [y]);
      const out = readChart(animator.toSVG());
      const labels = out.texts.map((t) => t.text);
      const decades = ['10\u207b\u00b2', '10\u207b\u00b9', '10\u2070', '10\u00b9'];
      assert.ok(decades.every((t) => labels.includes(t)), labels.join('|'));
      const ys = decades.map((d) => textsOf(out, d)[0].at[1]);
      const step = (out.plot.bottom - out.plot.top) / 3;
      ys.forEach((y, i) => near(y, out.plot.bottom - i * step, 0.5, `decade ${decades[i]}`));
      // 2..9 times each of the 3 decades: 24 minor ticks, 2 pt long, on the y axis
      const minor = out.strokes.filter((e) => {
        const pts = subpaths(e).flat();
        return pts.length === 2 && Math.abs(pts[0][1] - pts[1][1]) < 0.01 && Math.abs(Math.abs(pts[0][0] - pts[1][0]) - (2 * 100) / 72) < 0.05;
      });
      assert.equal(minor.length, 24);
      const log2 = minor.map((e) => subpaths(e)[0][0][1]).sort((a, b) => b - a)[0];
      near(log2, out.plot.bottom - Math.log10(2) * step, 0.75, 'minor tick at 0.02');
      // 'go': green circles, no line; the y label rotated, read bottom to top; text escaped
      assert.deepEqual(out.lines, [], "'go' draws no line");
      const markers = descendants(out.root).filter((e) => e.name === 'path' && e.attributes.fill === '#008000' && e.attributes['fill-opacity'] !== '0');
      assert.equal(markers.length, 4, 'three markers (y <= 0 is not drawn) and the legend handle');
      const [ylabel] = textsOf(out, 'loss <&>');
      assert.ok(ylabel, 'the y label');
      const m = transformOf(ylabel.element);
      assert.deepEqual([Math.round(m[0]), Math.round(m[1]), Math.round(m[2]), Math.round(m[3])], [0, -1, 1, 0], 'rotated by -90 degrees');
      assert.ok(ylabel.at[0] < Math.min(...decades.map((d) => textsOf(out, d)[0].at[0])) - 25, 'left of the tick labels');
      assert.equal(textsOf(out, 'a "b"').length, 1);
    });

    it('autoscales a log axis over the positive values only, and breaks the line at the others', () => {
      const animator = new Animator({ yscale: 'log' });
      for (const [x, y] of [[1, 1], [2, 2], [3, -1], [4, 10], [5, 20], [6, 0]]) animator.add(x, [y]);
      const out = readChart(animator.toSVG());
      const runs = subpaths(out.lines[0]);
      assert.equal(runs.length, 2);
      // log10 range (0, 1.301) plus 5% on each side
      const span = Math.log10(20) * 1.1;
      const y = (v: number): number => out.plot.bottom - ((Math.log10(v) + Math.log10(20) * 0.05) / span) * (out.plot.bottom - out.plot.top);
      near(runs[0][0][1], y(1), 0.06, 'y = 1');
      near(runs[1][1][1], y(20), 0.06, 'y = 20');
      assert.deepEqual(out.texts.map((t) => t.text).filter((t) => t.startsWith('10')), ['10\u2070', '10\u00b9']);
    });

    it("draws matplotlib's markers", () => {
      const animator = new Animator({ fmts: ['bx--', 'k+', 'cs', 'm^', 'yv', 'rD', 'C3.'], xlim: [0, 4], ylim: [0, 8] });
      for (const x of [1, 2, 3]) animator.add(x, [1, 2, 3, 4, 5, 6, 7]);
      const out = readChart(animator.toSVG());
      const fills = descendants(out.root).filter((e) => e.name === 'path' && e.attributes['fill-opacity'] !== '0').map((e) => e.attributes.fill);
      for (const color of ['#0000ff', '#000000', '#00bfbf', '#bf00bf', '#bfbf00', '#ff0000', '#d62728']) {
        assert.ok(fills.filter((f) => f === color).length >= 3, `three markers in ${color}`);
      }
      assert.deepEqual(out.lines.map((l) => [l.attributes.stroke, dashes(l)]), [['#0000ff', '7.71 3.33']], "only 'bx--' has a line");
    });
  });

  describe('toPNG', () => {
    const animator = trainCh13Chart(10);
    const image = decodePng(Buffer.from(animator.toPNG()));
    const chart = readChart(animator.toSVG());
    const { plot } = chart;
    const legend = chart.legend ?? assert.fail('legend');
    const toPixel = ([x, y]: Point): Point => [plot.left + ((x - 1) / (NUM_EPOCHS - 1)) * (plot.right - plot.left), plot.bottom - y * (plot.bottom - plot.top)];
    const inLegend = ([x, y]: Point): boolean => x > legend.left - 3 && x < legend.right + 3 && y > legend.top - 3 && y < legend.bottom + 3;
    /** The box a text element covers, by its anchor and the font's measure. */
    const textBox = (t: Chart['texts'][number]): Box => {
      const w = textWidth(t.text, FONT_SIZE);
      const anchor = t.element.attributes['text-anchor'];
      const left = anchor === 'middle' ? t.at[0] - w / 2 : anchor === 'end' ? t.at[0] - w : t.at[0];
      // central baseline: the text's ink lies within about 0.45 em above and below
      return { left, right: left + w, top: t.at[1] - 0.45 * FONT_SIZE, bottom: t.at[1] + 0.45 * FONT_SIZE };
    };

    it('is a valid, opaque PNG of the requested size', () => {
      assert.equal(image.width, 350);
      assert.equal(image.height, 250);
      for (const [x, y] of [[0, 0], [349, 249], [175, 125]]) assert.equal(image.pixel(x, y)[3], 255, `opaque at ${x}, ${y}`);
      const large = decodePng(Buffer.from(trainCh13Chart(10, { width: 700, height: 500 }).toPNG()));
      assert.deepEqual([large.width, large.height], [700, 500]);
    });

    it('draws each series in its colour along its segments, clipped to the plot area', () => {
      animator.series().forEach((series, i) => {
        let samples = 0;
        let hits = 0;
        for (let j = 1; j < series.points.length; ++j) {
          if (series.points[j - 1][0] < 1) continue; // left of xlim: clipped away
          const a = toPixel(series.points[j - 1]);
          const b = toPixel(series.points[j]);
          for (let t = 0.05; t < 0.97; t += 0.05) {
            const p: Point = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
            if (inLegend(p)) continue;
            ++samples;
            if (colorNear(image, p[0], p[1], COLORS[i])) ++hits;
          }
        }
        assert.ok(samples >= 20, `${samples} samples of ${series.name}`);
        // Solid: everywhere; dashed and dash-dot: mostly (the gaps are shorter than the dashes).
        const share = hits / samples;
        assert.ok(i === 0 ? share === 1 : share > 0.5, `${series.name}: ${hits} of ${samples} samples in ${COLORS[i]}`);
      });
      // Nothing of the series left of the plot area, where x < 1 has points.
      for (let y = plot.top; y < plot.bottom; ++y) {
        for (const color of COLORS) assert.ok(!colorNear(image, plot.left - 4, y, color, 60), `series drawn outside the plot area at y=${y}`);
      }
    });

    it('has a white background, grey grid, black spines', () => {
      assert.deepEqual(image.pixel(2, 2), [255, 255, 255, 255]);
      // Between grid lines and away from the data: the middle of the cell at x in [1, 1.5], y in [0.8, 1].
      assert.deepEqual(image.pixel(...toPixel([1.25, 0.9])), [255, 255, 255, 255]);
      assert.ok(colorNear(image, ...toPixel([2, 0.6]), '#b0b0b0', 8), 'grid line at y = 0.6');
      assert.ok(colorNear(image, ...toPixel([1.75, 0.6]), '#b0b0b0', 8), 'grid line at y = 0.6, between x ticks');
      assert.ok(colorNear(image, plot.left, (plot.top + plot.bottom) / 2, '#000000', 8), 'left spine');
      assert.ok(colorNear(image, (plot.left + plot.right) / 2, plot.top, '#000000', 8), 'top spine');
      assert.ok(colorNear(image, plot.right, (plot.top + plot.bottom) / 2 + 10, '#000000', 8), 'right spine');
    });

    it('draws the text in the bundled font: labels, tick labels and legend entries have ink where they are', () => {
      const texts = [...textsOf(chart, 'epoch'), ...LEGEND.map((e) => textsOf(chart, e)[0]), ...['1.0', '2.0', '0.4'].flatMap((t) => textsOf(chart, t))];
      assert.equal(texts.length, 1 + 3 + 2 + 1 + 1, "the x label, legend entries, x and y ticks '1.0', '2.0', '0.4'");
      for (const t of texts) {
        const { dark } = ink(image, textBox(t));
        assert.ok(dark >= 4 * t.text.replace(/\W/g, '').length, `${dark} dark pixels in ${JSON.stringify(t.text)}`);
      }
      const [xlabel] = textsOf(chart, 'epoch');
      const box = textBox(xlabel);
      assert.ok(ink(image, box).dark > 40, 'the x label has ink');
      // and nothing beside it: left and right of the label, under the tick labels
      assert.equal(ink(image, { ...box, left: plot.left + 15, right: box.left - 2 }).nonWhite, 0, 'blank left of the x label');
      assert.equal(ink(image, { ...box, left: box.right + 2, right: plot.right - 15 }).nonWhite, 0, 'blank right of the x label');
      // outside the plot area, the labels and the ticks: blank
      assert.equal(ink(image, { left: 0, right: 349, top: 0, bottom: plot.top - 8 }).nonWhite, 0, 'blank above the plot');
      assert.equal(ink(image, { left: 0, right: plot.left - 14, top: plot.bottom + 7, bottom: 249 }).nonWhite, 0, 'blank below the y tick labels');
    });

    it('needs the bundled font for that: resvg without a font draws no text at all', () => {
      const svg = animator.toSVG();
      const bare = decodePng(new Resvg(svg, { font: { loadSystemFonts: false } }).render().asPng());
      const [xlabel] = textsOf(chart, 'epoch');
      assert.equal(ink(bare, textBox(xlabel)).dark, 0, 'no text without a font');
      assert.ok(ink(image, textBox(xlabel)).dark > 40, 'text with the bundled font');
      // everything but the text is the same
      assert.ok(colorNear(bare, ...toPixel([2, 0.6]), '#b0b0b0', 8) && colorNear(bare, plot.left, (plot.top + plot.bottom) / 2, '#000000', 8));
    });
  });

  describe('save', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'animator-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** The parts of a chart's SVG that do not depend on the ids echarts numbers per process. */
    const shape = (svg: string): string[] => {
      const out = readChart(svg);
      return [...out.lines.map((e) => `${e.attributes.stroke} ${e.attributes.d}`), ...out.texts.map((t) => `${t.text} ${t.at}`)];
    };

    it('writes SVG or PNG by extension, and both without one', async () => {
      const chart = trainCh13Chart(10);
      await chart.save(path.join(dir, 'a.svg'));
      await chart.save(path.join(dir, 'b.PNG'));
      await chart.save(path.join(dir, 'c'));
      assert.deepEqual(fs.readdirSync(dir).sort(), ['a.svg', 'b.PNG', 'c.png', 'c.svg']);
      for (const file of ['a.svg', 'c.svg']) assert.deepEqual(shape(fs.readFileSync(path.join(dir, file), 'utf8')), shape(chart.toSVG()), file);
      // the PNG is rasterised on resvg's worker thread: the same image as toPNG's
      for (const file of ['b.PNG', 'c.png']) assert.deepEqual(fs.readFileSync(path.join(dir, file)), chart.toPNG(), file);
      await assert.rejects(chart.save(path.join(dir, 'd.jpg')), /use \.svg, \.png, or no extension/);
    });

    it('replaces the files atomically: readers see whole charts, the last one stays', async () => {
      const chart = new Animator({ xlim: [0, 12], ylim: [0, 1], legend: ['loss'] });
      const file = path.join(dir, 'chart');
      const saves: Promise<void>[] = [];
      const seen = { svg: new Set<string>(), png: new Set<string>() };
      let done = false;
      const reader = (async () => {
        while (!done) {
          for (const [ext, check] of [['svg', (b: Buffer) => readChart(b.toString('utf8'))], ['png', decodePng]] as const) {
            let data: Buffer;
            try {
              data = fs.readFileSync(`${file}.${ext}`);
            } catch {
              continue; // not written yet
            }
            check(data);
            seen[ext].add(data.toString('base64'));
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      try {
        for (let k = 0; k < 12; ++k) {
          chart.add(k, [Math.abs(Math.sin(k / 5))]);
          saves.push(chart.save(file));
          await new Promise((resolve) => setImmediate(resolve));
        }
        await Promise.all(saves);
      } finally {
        done = true;
        await reader;
      }
      assert.ok(seen.png.size >= 2, `the reader saw ${seen.png.size} versions`);
      assert.deepEqual(shape(fs.readFileSync(`${file}.svg`, 'utf8')), shape(chart.toSVG()), 'the last chart stays');
      assert.deepEqual(fs.readFileSync(`${file}.png`), chart.toPNG());
      assert.deepEqual(fs.readdirSync(dir).sort(), ['chart.png', 'chart.svg'], 'no temporary files left');
    });

    it('leaves the previous files, and no partial or temporary file, when a rename fails', async () => {
      const file = path.join(dir, 'chart');
      const chart = new Animator({ legend: ['loss'] });
      chart.add(1, [0.5]);
      chart.add(2, [0.25]);
      await chart.save(file);
      const before = { svg: fs.readFileSync(`${file}.svg`), png: fs.readFileSync(`${file}.png`) };
      chart.add(3, [0.125]);
      const rename = fs.promises.rename;
      let calls = 0;
      fs.promises.rename = async () => {
        ++calls;
        throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
      };
      try {
        await assert.rejects(chart.save(file), /^Error: Animator\.save: EIO: i\/o error/);
      } finally {
        fs.promises.rename = rename;
      }
      assert.equal(calls, 1, 'the first rename failed, so the PNG was not written either');
      assert.deepEqual(fs.readdirSync(dir).sort(), ['chart.png', 'chart.svg'], 'no temporary file left');
      assert.deepEqual(fs.readFileSync(`${file}.svg`), before.svg, 'the previous SVG');
      assert.deepEqual(fs.readFileSync(`${file}.png`), before.png, 'the previous PNG');
      // and the next save goes through
      await chart.save(file);
      assert.equal(subpaths(readChart(fs.readFileSync(`${file}.svg`, 'utf8')).lines[0]).flat().length, 3);
    });

    it('writes nothing when the target is a directory', async () => {
      fs.mkdirSync(path.join(dir, 'chart.svg'));
      await assert.rejects(new Animator().save(path.join(dir, 'chart')), /^Error: Animator\.save: /);
      assert.deepEqual(fs.readdirSync(dir), ['chart.svg'], 'no PNG, no temporary file');
      assert.deepEqual(fs.readdirSync(path.join(dir, 'chart.svg')), []);
    });

    it('says so when the directory does not exist', async () => {
      const missing = path.join(dir, 'no', 'such');
      await assert.rejects(new Animator().save(path.join(missing, 'chart.png')), (error: Error) => {
        assert.equal(error.message, `Animator.save: cannot write ${path.join(missing, 'chart.png')}: directory ${missing} does not exist`);
        return true;
      });
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  });
});
