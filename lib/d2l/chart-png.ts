/**
 * Draws an Animator chart (a `ChartScene`) as a PNG image, with no native dependency: a small
 * anti-aliased rasteriser (strokes by distance to each segment, fills by exact signed-area
 * accumulation), DejaVu Sans outlines embedded below for the text (matplotlib's font, so labels
 * look and measure as in d2l's figures, also on machines without fonts), and a PNG encoder
 * (node:zlib for the image data, CRC-32 here).
 */
import { deflateSync, inflateSync } from 'zlib';
import type { ChartItem, ChartScene, Point, Rect, Stroke, TextRun } from './animator';

// ---- Font ---------------------------------------------------------------------------------------

/**
 * Ascent and descent of a line of text as matplotlib measures it (the top of 'l' and the bottom
 * of 'p' in DejaVu Sans), in units of the font size.
 */
export const FONT_ASCENT = 1556 / 2048;
export const FONT_DESCENT = 426 / 2048;
/** Size and rise of superscripts (exponents of log-axis labels), in units of the font size. */
export const SUPERSCRIPT_SCALE = 0.7;
export const SUPERSCRIPT_RISE = 0.42;

// DejaVu Sans 2.37 (Copyright (c) 2003 by Bitstream, Inc. All Rights Reserved. Bitstream Vera is a
// trademark of Bitstream, Inc. DejaVu changes are in the public domain; the Bitstream Vera
// license allows redistribution with this notice): the glyphs of ASCII 32..126 and U+2212 (the
// minus sign of tick labels), in 1/128 em. FONT_ADVANCES: advance widths in that order.
// FONT_OUTLINES: base64 of deflated bytes, per glyph: contour count, then per contour its point
// count and per point x + 16, y + 64 (y up) and 1 for a point on the curve, 0 for a quadratic
// control point, as in the font's TrueType 'glyf' table (which these were read from, rounded).
const FONT_CODES = [...Array.from({ length: 95 }, (_, i) => 32 + i), 0x2212];
const EM = 128;
const FONT_ADVANCES = [
  41, 51, 59, 107, 81, 122, 100, 35, 50, 50, 64, 107, 41, 46, 41, 43, 81, 81, 81, 81, 81, 81, 81, 81,
  81, 81, 43, 43, 107, 107, 107, 68, 128, 88, 88, 89, 99, 81, 74, 99, 96, 38, 38, 84, 71, 110, 96, 101,
  77, 101, 89, 81, 78, 94, 88, 127, 88, 78, 88, 50, 43, 50, 107, 64, 64, 78, 81, 70, 81, 79, 45, 81,
  81, 36, 36, 74, 36, 125, 81, 78, 81, 81, 53, 67, 50, 81, 76, 105, 76, 76, 67, 81, 43, 81, 107, 107,
];
const FONT_OUTLINES = [
  'eNqVWPtXWte6nZN6T5rWtklPTnygRIOIiIoiIL42W1TeoBjlFYMKmuADVDQaY8SWJEjS5qHEU0+aPRieH87fee9G06S9vWP0',
  'jsEvm73WXvOb3ze/x4KiSj3J7kl2i1SL/JtaYrfE7m0a4tTEqd6mokorUbvPhn02SKyySbTt07RPk0RFVfARbY84kKQvyQbX',
  'B9rznM4z9oGLHxjPczPPzUecfcRQkitJrsQ4HaNf5KhIT4zWGHtEakV2xVgfY32S3UmaH7H5EZvztOYpfOAXtwc7ae6kWWSX',
  'iOZRKB1UBtnsR5cbZjfNS9SmoMxC+YTKAtpOYC7RfM7Bcw6WOFKC7xjBNww+o+8IIy8w+JKD63SnEU4gHGHYD/cIBkVeMW/Q',
  '/JJdL9CaR+sBW3fRuYkrg4scdHPUA28Q3jC9sxhL4r+q08tMLWNhHgsRLkwg5UDawawDexPYi3BvHtllVKc3ubuJp0k8jfCp',
  'D7sC0gKTAsK+yslJJDdR3fkLtb+g+TWaC2w+gHYbnds0bsN6AGuB1tcw/oKqpTLXyzQL1Aus7izTUob9GPYC7Y/Rt4bONarX',
  'UPMYNQXWHENdhuIrQ5a6NFqSaImzZRo9Lgy6OOKCz4fJSWqte4xEeTeO+VXMZ7mW5eoKFmOIT3FD5LzIsJvBMdgFDMinonYC',
  'tfdYu4SmLej22HoA9XOoX1BdQk8ZQ2WOlOGTEPyVwTf0nsB+iuFT9p3C8BqGFzQUYDwEfxdJ/NZ6TkMJ2l1oU9TGYBiG1cAu',
  'A1sEKGNQpqjcQcsJus7Jb+vP2XLOrhP07aAvxb4YugS0GFhvoHoY+hj0Kep3oS6B3/te05Knb4fuDZqe0LTEjiV2PGHNBm/s',
  'sD3PG69Z844dR+wo01Sm6Yjud2S19y29aWbSzCTpTdIrUhQpJqlKUpWmmKb4lvzbrUl2TLJjnLd7WN/DW+Nk1c0UrSla47wZ',
  'J6tUk9RPUi9SJZJVPRIHJSpNvGaiorr/lIZTaPLQrFNzFwYX+l0cdcF3F751+vIYPUV1f5muMqIFRNcZDcMloF+gTkBtGLXr',
  'rC1AVwa/bvLS7KX5hKpXVP1L1uOIxBEvQ16GRDaJZKPOyxkvZ0TWiazzsnkK/asYXufoDpyHcD6j8ycMv4P5HQ3vcPst6n9m',
  '/b94+wMMZZjKHC1j+hjTzzh9iMlteNJ0r8EaA3VjWfo3EF5E+K6soTEBvQI7BTSNoH6U9RO85UOHG0Y3BTe8U/DepTcJWxrm',
  'NNvTbN+leZe2XbgO4SrQ9QpCBUX3O9nhjW/Z+CtbJHSXYSlzrIyZE8wcceYQvm0ovhBP2LxAcYFfD0v0S/QvMLbAWIj+kJxc',
  'ZKeFeDPEmwlSpZI4IXGiRF2JuifsOIAxB1OOYzmE0gjFGZqQ4Rsv4Iuot8vwmz7CH3bDMw1PnJ4Uhrdg3GLnFtSbUGWoqB6o',
  'SLUthbY426ZhdGGg4kz/NPxx+lMY3UbdnV955y0nTjD+DuI7mt6h9Rlas9Q9gimHwRzdOUTTiMYZnZRdPSCwXUBdGHXrrHuO',
  'rjLECgcBCbyilBiWGD6T86FWpLNEZYlfVPevsXsNmiQ0MWqm0F2JKrsLvin4YvQlYV9DbUeWLdtQHkJ5ROUJ9GX0l+ksI3yC',
  '8BHDh/BvYzzLiQ1Ek4jGGPV/irw6P+pirEtCvYFqbYHaHHp20L/DkR14cvAU6HmFkVP0n7LnFNpXUNSp7FT5qfai042eiziI',
  'wbdK1xKG52GZZ9s8ajdRe8ja13JA91XARAqIrDMS/eQTtYjqvhWKK/A8hOeQnhcQT9F3oaMX0BxS8xCGFSiqLpUp8pbIqlt5',
  'duTZkeWtLBW/e/ozBV/JHLIzxUyQGcel3jMvqahSPWbmMTMbVG2wSrXAzAIzIapC5BXVIVUvL7OFykFVkPEUFVVtkzRPyu5p',
  'E9lsjlIXpS5J3TI6NmHcpfUJBw8hPIdQpPAallMYTtl+iltvUfcz685464PsGWOZw2V4S/C+oPcZnE8wssPBTVozsKzCskxz',
  'CuZFmBeoqBYTFKNwBzAZYCSAhSgWElxYQeQhJh/S/RDiCkYSE4x7MO1AwMFRBywzsCRoyWA0h0CO0znE95DYZuIJV59wNcDt',
  'SeTiyC0zt4HH+9j5gRtF3DvG1DE9xxh6BcsLdjxFcwbNCTZH0OaEQaRlAM5eBHsZ7cWyFevDfGhhuhuxdgTbOd6OHiN0A2y2',
  'ozaE2gRr02jOQ/eSPSdwvMfUe869x84bHDxn/hBHmzha5lEUWw4kxqn4YuiY+gT9CX5pljgq8YHIqMhghNqInGuvi/ziqi5N',
  'nYfDHro8CN5BcJbBRbjSGE7zqpwCdjm0y/FdBHIIPGfgZ4yXMFTid40ShyV6Jdw9xt0C7+ZwZxveLKc3MLeIuRjnAgiIEEQ2',
  'imR94p9MvODsGwRO4Til5RSaHys5fRYWNxxuBtyYDSAxzYSTs6PwCxgX2C2gJoKaddY8l5PbeJn+MmZ/haICzUOrhz4P4rOI',
  'rzOeh68Ea4lXGyX2SZySsHqE1XWuhjElou8CSHWjxIjEyEV+22Vol6E16tao8zLqlemRV33VKO/n1MdVgV0G0pSpunivmvVz',
  '9j5d9+na5PIml91cGMOkAMf/wuwoc6KMuV9x/5+8/4JzbzB5CucFA/lPDDgrDES8qCDUSfKp4V05eS1KXBQZFhm+wHmBoOpy',
  '1Ser5CcndRY0tOLbVl5t5dUeftPDmz1oHECjk/z6ctUO70hMSjRn5YgIiZ8Z9rfLJV6GvfKZ8n/fNEo0SHTGOScxKzEr8r7I',
  '+ycMTHFkirqTj5tl1rokhidk2EmJSZFTInWvL98rqu2nNJ9C80PF7Hswu2B3cdKF+XuYX+f8DzI11fYyQ2VkniOzzkwUIQF2',
  'gYbPSDWUL/2/wf4N2jfg24PvR/pewl5Cf6liZr9Et4ToG0R/ZHQb7vvov0/d/f8Xku+n7VzqZqibLoEOAaO/IYl+QvI7tHEs',
  'OKG44V6jfwUzC4jEuCQyItIXoXMBwgP0PaDuwSWKTzDfIppn9DGCGVQMy7I/S3sWvsfw5en76dIwts2858xr+o/l0jF4yu5T',
  'aF5B85yaQ3TuoW+Xtof0byG2hFiMMZ9cjyyViGweQd0Y6yqDgMEFS6W39Qfhj9I/j/EHGFxm7yo1GdQ+Ru0z1h6jvVLvxDL8',
  'EvjlNUn2/lyJwyUOi/Ic0lPitRL5vVJim8S2JbaF0OuCzUWvC6EQQksMXYRBkskgggJslfqkDEKZJK+YRV6XqJI4NMGoxAeS',
  'POXwmxsSmyWaA3RJ8v6VAHMSX0rcEuV4mjjmkCiXLFbXSmyVOLzPaYkJiWObskxCIodSbBZ5Q5TDm1evSTLPfbsMSoxLHF77',
  'iH6N/KpG4oLEhXds9TLhZULkTZE3PQyWWFMiv1Se03JOyxm1Z9RaabHSYqDSQFYpJQ6a2GPiNYn8su+cfQY2GNhgpd5K/Rkb',
  'zthwTl7xSczsc2GfjhLb96napyiRVUE9g7f53W1+pyertP9h/xsa3lD5Hyq+HkqyKwn1PahnqJ6A3gWji0MuOGfgXKAzSeWd',
  'FO+IdIp0ejk6BqsAgyAPAbUe1E6zdh5ta+hbo3ONzjSdDzGcQ2+OnTnc3kfjIzY+pfo5DEWYixwr4s4jKKoDSQY2MFbpr4w5',
  'aDegTVIbklu0QRfHXAiEcF27T30elqJciz1FxLYQSzI2BY8AQaBFgH4MWq/cZzWIsvnac7I+8JSBPXr2IVY+3p2TWyJ1kuqQ',
  '3HYNuii64PEi4GdglB4Rto8dXc0UapKs2UZ7EQNFikV4ClBc9+zTc87Quexqj0iPl84xDAowCdT+tmkL2iJMRQ4W4cyj+uK4',
  'Thf6Lo4LwZOkZ0OG1FchRr0BxT8i9xmZp3r+cv4bqrSmE17MBDgzxokRebobrEx38imJS2j9RbqKiOzgim+Zvi3YcxiomNmy',
  'BfUyeUM8p3hG8xm7ztBeQvvPbC9wqMChA7YfsL0y9agO+PcD/r1AVYGqn6j6BbpzmM+pqPYs/hGoepHqMDo96PNQ9MATRmPI',
  'zVAfHBqYNTRooNGiSccmEzVGdBlgMtBmgGcQHic9PjodGBRhkvth1EyjZlE25HO6ZIYLDBXIG6EVmWavSO8Kvdty83MZH9nK',
  'DPqZo+XY+BF9H2MjtAdFVUOBbQW5r2sQWdVwzrZztpXYUKKi+vKVjW09aNTgew2/1fBbA68bWGNAgxkNtt9v4deX56RkcJEC',
  'e5cYq0DTJi6B/Lbh4kl9Z4/hH5AsYrXInSLyj5BfYV7kjsidFe5sYz2HVI5zOcxkMZOSxz63SPcK3duXXvyjpQXKrfxnKhgv',
  'YvIH/EWeftv9B56q+3Ls+kwWXR/j1BuCPFavy+6v7ivSUUR4G+Ekw1NwCOgT2PaZTNqKUFyX5adhg+ZPsP5fiv1L2lf8JQ1d',
  '/ytq/C28Qhp6NOT34/scfQLhAIMHNB5Auwnt0p8zbqukgdEjjB+Rbe5ndO9x7An6KwOqPgf1HtTbVG9AtwrjMi0p2pfgm4Xv',
  'jtwmDgvormQWlYiaUdYE2OhFuwvdLlpdGPFjZIojYQzMojvOjjk2J1Czipot1hxAU4SxyP4ixgrgDe17GZatQNsBtQfUhqmd',
  'QIcHvR7aPLSJ7BXZKqLBg4YwGz5qu6HAhvdU3FDOUllga4Gts2ydkt1tcdHm+jg3X3DzMbk5KnT2VuhU+kFrkbxyo8CmAi1e',
  '+ipSEOS7PvKbfxTYXKBhgkKB3gJjE0wVuFXggijXi7G9yymL1aEChxflvsQj0jJ7WS4NS7xZYEuBljTdBfJa/wBNndBroNaw',
  'XiPfHDUb2GqA3oSuIXaP8BLGxCUMflVTYKDAwBPelrtZBi7qqZcjB6w5IDVBE4N6BvQU9Og1odfO3iB776IzgZYEmxJsWmXL',
  'KjtX0ZtF7z57X7L3DMI5AucMnjN4Rv8Zx85gK8H2Ur5WtW2iPwXjffYvwTYL2xRtdtoGMGaC30RW6f9N/W02/c/v36SmycQW',
  'EztNMA7AaKdxisZZWJdgu09rCsZNGPdpfEljCZ1naDlj0xmbKtdopnMIZxBeUtinkMX4KgKrDK4ymGAgwfEEhLsQghTsFEww',
  '6dGiZ5OeVGW2mEnxQRKzcwjNcWIOjgTHkxhPciyJsSQHHsD0gF0P0JKA6h5VKbakYcjCnOVQFuMZOjJwpOlMw5VmcBnhZd5b',
  'xoMMWKX6ePOmSvK/AfhstAE=',
].join('');

interface GlyphPoint {
  x: number;
  y: number;
  onCurve: boolean;
}

interface Glyph {
  advance: number;
  contours: GlyphPoint[][];
}

let glyphs: Map<number, Glyph> | undefined;

/** The embedded glyphs by code point, decoded on first use. */
function fontGlyphs(): Map<number, Glyph> {
  if (glyphs) return glyphs;
  const bytes = inflateSync(Buffer.from(FONT_OUTLINES, 'base64'));
  let at = 0;
  glyphs = new Map();
  for (const [i, code] of FONT_CODES.entries()) {
    const contours: GlyphPoint[][] = [];
    for (let c = bytes[at++]; c > 0; --c) {
      const contour: GlyphPoint[] = [];
      for (let p = bytes[at++]; p > 0; --p, at += 3) contour.push({ x: bytes[at] - 16, y: bytes[at + 1] - 64, onCurve: bytes[at + 2] === 1 });
      contours.push(contour);
    }
    glyphs.set(code, { advance: FONT_ADVANCES[i], contours });
  }
  return glyphs;
}

/** The glyph of `char`; characters outside the embedded set are drawn as '?'. */
function glyphOf(char: string): Glyph {
  const font = fontGlyphs();
  return font.get(char.codePointAt(0) ?? 0) ?? (font.get(0x3f) as Glyph);
}

/** Width of `text` at `size` pixels per em, as drawn here (no kerning). */
export function textWidth(text: string, size: number): number {
  let width = 0;
  for (const char of text) width += glyphOf(char).advance;
  return (width * size) / EM;
}

/** Width of a label made of runs, superscripts included, at `size` pixels per em. */
export function runsWidth(runs: readonly TextRun[], size: number): number {
  return runs.reduce((sum, run) => sum + textWidth(run.text, run.superscript ? size * SUPERSCRIPT_SCALE : size), 0);
}

/** Flattens a TrueType contour (already placed in pixels) into a polygon. */
function flattenContour(points: GlyphPoint[]): Point[] {
  // Between two control points lies an implied point on the curve.
  const expanded: GlyphPoint[] = [];
  points.forEach((p, i) => {
    const previous = points[(i + points.length - 1) % points.length];
    if (!p.onCurve && !previous.onCurve) expanded.push({ x: (p.x + previous.x) / 2, y: (p.y + previous.y) / 2, onCurve: true });
    expanded.push(p);
  });
  const start = expanded.findIndex((p) => p.onCurve);
  const ring = [...expanded.slice(start), ...expanded.slice(0, start)];
  const polygon: Point[] = [[ring[0].x, ring[0].y]];
  for (let i = 1; i <= ring.length; ) {
    const p = ring[i % ring.length];
    if (p.onCurve) {
      polygon.push([p.x, p.y]);
      ++i;
      continue;
    }
    const [x0, y0] = polygon[polygon.length - 1];
    const end = ring[(i + 1) % ring.length];
    // Segments enough for a deviation well under a pixel (as font-rs chooses them).
    const deviation = Math.hypot(x0 - 2 * p.x + end.x, y0 - 2 * p.y + end.y);
    const steps = 1 + Math.floor(Math.sqrt(Math.sqrt(3 * deviation * deviation)));
    for (let s = 1; s <= steps; ++s) {
      const t = s / steps;
      const u = 1 - t;
      polygon.push([u * u * x0 + 2 * u * t * p.x + t * t * end.x, u * u * y0 + 2 * u * t * p.y + t * t * end.y]);
    }
    i += 2;
  }
  return polygon;
}

/** The outlines of a text item as polygons in pixels. */
function textPolygons(item: Extract<ChartItem, { kind: 'text' }>): Point[][] {
  const [x, y] = item.at;
  const total = runsWidth(item.runs, item.size);
  let pen = item.anchor === 'start' ? 0 : item.anchor === 'middle' ? -total / 2 : -total;
  // (u, v): along the baseline and down from it; vertical text turns a quarter counterclockwise.
  const place = (u: number, v: number): [number, number] => (item.vertical ? [x + v, y - u] : [x + u, y + v]);
  const polygons: Point[][] = [];
  for (const run of item.runs) {
    const scale = (run.superscript ? item.size * SUPERSCRIPT_SCALE : item.size) / EM;
    const rise = run.superscript ? item.size * SUPERSCRIPT_RISE : 0;
    for (const char of run.text) {
      const glyph = glyphOf(char);
      for (const contour of glyph.contours) {
        const placed = contour.map((p) => {
          const [px, py] = place(pen + p.x * scale, -p.y * scale - rise);
          return { x: px, y: py, onCurve: p.onCurve };
        });
        polygons.push(flattenContour(placed));
      }
      pen += glyph.advance * scale;
    }
  }
  return polygons;
}

// ---- Rasteriser -----------------------------------------------------------------------------

type RGB = [number, number, number];

function parseColor(hex: string): RGB {
  const value = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!value) throw new Error(`chart: colour ${JSON.stringify(hex)} is not #rrggbb`);
  const n = parseInt(value[1], 16);
  return [(n >> 16) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
}

/** Coverage (0..1) of each pixel of a window whose top left pixel is (x0, y0). */
class Mask {
  readonly coverage: Float32Array;

  constructor(readonly x0: number, readonly y0: number, readonly width: number, readonly height: number) {
    this.coverage = new Float32Array(Math.max(0, width * height));
  }

  /** A window holding the pixels that meet [minX, maxX] x [minY, maxY]. */
  static around(minX: number, minY: number, maxX: number, maxY: number): Mask {
    const x0 = Math.floor(minX);
    const y0 = Math.floor(minY);
    return new Mask(x0, y0, Math.floor(maxX) - x0 + 1, Math.floor(maxY) - y0 + 1);
  }

  /** Sets each pixel to `coverageAt(centre x, centre y)` where that is larger. */
  cover(coverageAt: (x: number, y: number) => number, minX = this.x0, minY = this.y0, maxX = Infinity, maxY = Infinity): void {
    const fromX = Math.max(this.x0, Math.floor(minX));
    const fromY = Math.max(this.y0, Math.floor(minY));
    const toX = Math.min(this.x0 + this.width - 1, Math.floor(maxX));
    const toY = Math.min(this.y0 + this.height - 1, Math.floor(maxY));
    for (let y = fromY; y <= toY; ++y) {
      const row = (y - this.y0) * this.width - this.x0;
      for (let x = fromX; x <= toX; ++x) {
        const c = coverageAt(x + 0.5, y + 0.5);
        if (c > this.coverage[row + x]) this.coverage[row + x] = Math.min(1, c);
      }
    }
  }
}

/** The image being drawn: RGB in 0..1, sRGB values blended directly as matplotlib's Agg does. */
class Canvas {
  private readonly pixels: Float32Array;

  constructor(readonly width: number, readonly height: number) {
    this.pixels = new Float32Array(width * height * 3).fill(1);
  }

  /** Blends `color` over the image by the mask's coverage times `opacity`, inside `clip`. */
  paint(mask: Mask, color: RGB, opacity: number, clip?: Rect): void {
    const span = (start: number, lo: number, hi: number): number => Math.max(0, Math.min(start + 1, hi) - Math.max(start, lo));
    for (let my = 0; my < mask.height; ++my) {
      const y = mask.y0 + my;
      if (y < 0 || y >= this.height) continue;
      const inY = clip ? span(y, clip.y, clip.y + clip.height) : 1;
      for (let mx = 0; mx < mask.width; ++mx) {
        const x = mask.x0 + mx;
        const c = mask.coverage[my * mask.width + mx];
        if (c <= 0 || x < 0 || x >= this.width) continue;
        const alpha = c * opacity * inY * (clip ? span(x, clip.x, clip.x + clip.width) : 1);
        const at = (y * this.width + x) * 3;
        for (let k = 0; k < 3; ++k) this.pixels[at + k] += (color[k] - this.pixels[at + k]) * alpha;
      }
    }
  }

  /** The image as 8-bit RGB rows. */
  rgb8(): Uint8Array {
    const bytes = new Uint8Array(this.pixels.length);
    for (let i = 0; i < bytes.length; ++i) bytes[i] = Math.round(this.pixels[i] * 255);
    return bytes;
  }
}

/** The smallest rectangle holding all `lines`' points. */
function boundingBox(lines: Point[][]): Rect {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const line of lines) {
    for (const [x, y] of line) [minX, minY, maxX, maxY] = [Math.min(minX, x), Math.min(minY, y), Math.max(maxX, x), Math.max(maxY, y)];
  }
  return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}

/** Splits a polyline into its dashes; `pattern` alternates on and off lengths. */
function dashes(points: Point[], pattern: readonly number[]): Point[][] {
  const pieces: Point[][] = [];
  let index = 0;
  let left = pattern[0];
  let on = true;
  let piece: Point[] = [points[0]];
  for (let i = 1; i < points.length; ++i) {
    let [ax, ay] = points[i - 1];
    const [bx, by] = points[i];
    let length = Math.hypot(bx - ax, by - ay);
    while (length > left) {
      const t = left / length;
      const split: Point = [ax + (bx - ax) * t, ay + (by - ay) * t];
      if (on) pieces.push([...piece, split]);
      else piece = [split];
      on = !on;
      index = (index + 1) % pattern.length;
      [ax, ay] = split;
      length -= left;
      left = pattern[index];
    }
    left -= length;
    if (on) piece.push([bx, by]);
  }
  if (on && piece.length > 1) pieces.push(piece);
  return pieces;
}

/**
 * Adds segment a-b of a stroke `halfWidth` either side to the mask. An end with a cap (`null`:
 * a round join instead) stops `cap` pixels past the end point.
 */
function coverSegment(mask: Mask, a: Point, b: Point, halfWidth: number, startCap: number | null, endCap: number | null): void {
  const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
  if (length === 0) return;
  const ux = (b[0] - a[0]) / length;
  const uy = (b[1] - a[1]) / length;
  const reach = halfWidth + 1;
  const thickness = Math.min(1, 2 * halfWidth); // what a line thinner than a pixel covers of it
  mask.cover(
    (x, y) => {
      const rx = x - a[0];
      const ry = y - a[1];
      const along = rx * ux + ry * uy;
      let c: number;
      if (along < 0 && startCap === null) c = halfWidth + 0.5 - Math.hypot(rx, ry);
      else if (along > length && endCap === null) c = halfWidth + 0.5 - Math.hypot(x - b[0], y - b[1]);
      else {
        c = halfWidth + 0.5 - Math.abs(rx * uy - ry * ux);
        if (startCap !== null) c = Math.min(c, along + startCap + 0.5);
        if (endCap !== null) c = Math.min(c, length - along + endCap + 0.5);
      }
      return Math.min(c, thickness);
    },
    Math.min(a[0], b[0]) - reach - (startCap ?? 0) - (endCap ?? 0),
    Math.min(a[1], b[1]) - reach - (startCap ?? 0) - (endCap ?? 0),
    Math.max(a[0], b[0]) + reach + (startCap ?? 0) + (endCap ?? 0),
    Math.max(a[1], b[1]) + reach + (startCap ?? 0) + (endCap ?? 0),
  );
}

/** Coverage of polylines stroked with `stroke` (dashed when it says so), within `bounds`. */
function strokeMask(polylines: Point[][], stroke: Stroke, bounds: Rect): Mask {
  const halfWidth = stroke.width / 2;
  const cap = stroke.cap === 'square' ? halfWidth : 0;
  const pieces = stroke.dash ? polylines.flatMap((p) => dashes(p, stroke.dash as readonly number[])) : polylines;
  const box = boundingBox(pieces);
  const margin = halfWidth + cap + 1;
  const mask = Mask.around(
    Math.max(bounds.x, box.x - margin),
    Math.max(bounds.y, box.y - margin),
    Math.min(bounds.x + bounds.width, box.x + box.width + margin),
    Math.min(bounds.y + bounds.height, box.y + box.height + margin),
  );
  for (const piece of pieces) {
    for (let i = 1; i < piece.length; ++i) {
      coverSegment(mask, piece[i - 1], piece[i], halfWidth, i === 1 ? cap : null, i === piece.length - 1 ? cap : null);
    }
  }
  return mask;
}

/**
 * Coverage of polygons filled by the nonzero rule (for glyphs and markers, whose contours do not
 * overlap), exactly by area: each edge adds its signed area to an accumulation row, whose
 * running sums are the coverage (the algorithm of font-rs).
 */
function fillMask(polygons: Point[][]): Mask {
  const box = boundingBox(polygons);
  const mask = Mask.around(box.x, box.y, box.x + box.width, box.y + box.height);
  const stride = mask.width + 2;
  const area = new Float32Array(stride * mask.height);
  const edge = (from: Point, to: Point): void => {
    let [x0, y0] = [from[0] - mask.x0, from[1] - mask.y0];
    let [x1, y1] = [to[0] - mask.x0, to[1] - mask.y0];
    if (y0 === y1) return;
    let direction = 1;
    if (y0 > y1) {
      [x0, y0, x1, y1] = [x1, y1, x0, y0];
      direction = -1;
    }
    const dxdy = (x1 - x0) / (y1 - y0);
    let x = x0;
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(mask.height, Math.ceil(y1)); ++y) {
      const row = y * stride;
      const dy = Math.min(y + 1, y1) - Math.max(y, y0);
      const next = x + dxdy * dy;
      const d = dy * direction;
      const left = Math.min(x, next);
      const right = Math.max(x, next);
      const leftFloor = Math.floor(left);
      const rightCeil = Math.ceil(right);
      if (rightCeil <= leftFloor + 1) {
        const middle = 0.5 * (x + next) - leftFloor;
        area[row + leftFloor] += d - d * middle;
        area[row + leftFloor + 1] += d * middle;
      } else {
        const s = 1 / (right - left);
        const leftFraction = left - leftFloor;
        const a0 = 0.5 * s * (1 - leftFraction) ** 2;
        const rightFraction = right - rightCeil + 1;
        const am = 0.5 * s * rightFraction ** 2;
        area[row + leftFloor] += d * a0;
        if (rightCeil === leftFloor + 2) {
          area[row + leftFloor + 1] += d * (1 - a0 - am);
        } else {
          const a1 = s * (1.5 - leftFraction);
          area[row + leftFloor + 1] += d * (a1 - a0);
          for (let xi = leftFloor + 2; xi < rightCeil - 1; ++xi) area[row + xi] += d * s;
          const a2 = a1 + (rightCeil - leftFloor - 3) * s;
          area[row + rightCeil - 1] += d * (1 - a2 - am);
        }
        area[row + rightCeil] += d * am;
      }
      x = next;
    }
  };
  for (const polygon of polygons) polygon.forEach((p, i) => edge(p, polygon[(i + 1) % polygon.length]));
  for (let y = 0; y < mask.height; ++y) {
    let sum = 0;
    for (let x = 0; x < mask.width; ++x) {
      sum += area[y * stride + x];
      mask.coverage[y * mask.width + x] = Math.min(1, Math.abs(sum));
    }
  }
  return mask;
}

/** Coverage of a disk, by distance from its centre. */
function disk(cx: number, cy: number, radius: number): Mask {
  const mask = Mask.around(cx - radius - 1, cy - radius - 1, cx + radius + 1, cy + radius + 1);
  mask.cover((x, y) => radius + 0.5 - Math.hypot(x - cx, y - cy));
  return mask;
}

/**
 * Coverage of a rectangle with corners rounded by `radius`, by signed distance from its edge:
 * its inside, or with `outline`, a line that wide along its edge.
 */
function roundedRect(rect: Rect, radius: number, outline?: number): Mask {
  const margin = (outline ?? 0) / 2 + 1;
  const mask = Mask.around(rect.x - margin, rect.y - margin, rect.x + rect.width + margin, rect.y + rect.height + margin);
  const cx = rect.x + rect.width / 2;
  const cy = rect.y + rect.height / 2;
  mask.cover((x, y) => {
    const qx = Math.abs(x - cx) - (rect.width / 2 - radius);
    const qy = Math.abs(y - cy) - (rect.height / 2 - radius);
    const distance = Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - radius;
    return outline === undefined ? 0.5 - distance : Math.min(outline / 2 + 0.5 - Math.abs(distance), Math.min(1, outline));
  });
  return mask;
}

/**
 * An axis-aligned line moved onto the pixel grid, as matplotlib snaps them: a whole number of
 * pixels wide, centred on a pixel (odd widths) or a pixel edge (even), its ends on pixel edges
 * (or pixel centres when a square cap extends them by half a pixel).
 */
function snapped(from: Point, to: Point, stroke: Stroke): { from: Point; to: Point; stroke: Stroke } {
  const width = Math.max(1, Math.round(stroke.width));
  const across = (v: number): number => (width % 2 === 1 ? Math.floor(v) + 0.5 : Math.round(v));
  const along = (v: number): number => (stroke.cap === 'square' ? across(v) : Math.round(v));
  const horizontal = from[1] === to[1];
  const snap = (p: Point): Point => (horizontal ? [along(p[0]), across(p[1])] : [across(p[0]), along(p[1])]);
  return { from: snap(from), to: snap(to), stroke: { ...stroke, width } };
}

function drawItem(canvas: Canvas, item: ChartItem, plotArea: Rect): void {
  const image: Rect = { x: 0, y: 0, width: canvas.width, height: canvas.height };
  switch (item.kind) {
    case 'rect':
      canvas.paint(roundedRect(item.rect, item.radius), parseColor(item.fill), item.fillOpacity);
      if (item.stroke) canvas.paint(roundedRect(item.rect, item.radius, item.stroke.width), parseColor(item.stroke.color), item.stroke.opacity ?? 1);
      return;
    case 'line': {
      const line = snapped(item.from, item.to, item.stroke);
      canvas.paint(strokeMask([[line.from, line.to]], line.stroke, image), parseColor(line.stroke.color), line.stroke.opacity ?? 1);
      return;
    }
    case 'polyline':
      if (item.points.length < 2) return;
      canvas.paint(strokeMask([item.points], item.stroke, image), parseColor(item.stroke.color), item.stroke.opacity ?? 1, item.clip ? plotArea : undefined);
      return;
    case 'markers': {
      const color = parseColor(item.color);
      const clip = item.clip ? plotArea : undefined;
      const edge: Stroke = { color: item.color, width: item.edgeWidth, cap: 'butt' };
      const { shape } = item;
      for (const [cx, cy] of item.centers) {
        const at = (p: Point): Point => [cx + p[0], cy + p[1]];
        if (shape.kind === 'disk') {
          canvas.paint(disk(cx, cy, shape.radius + item.edgeWidth / 2), color, 1, clip);
        } else if (shape.kind === 'polygon') {
          const outline = shape.points.map(at);
          canvas.paint(fillMask([outline]), color, 1, clip);
          // Closed: back over the first side, so every corner is a join.
          canvas.paint(strokeMask([[...outline, outline[0], outline[1]]], edge, image), color, 1, clip);
        } else {
          canvas.paint(strokeMask(shape.segments.map(([a, b]) => [at(a), at(b)]), edge, image), color, 1, clip);
        }
      }
      return;
    }
    case 'text': {
      const polygons = textPolygons(item).filter((p) => p.length > 2);
      if (polygons.length > 0) canvas.paint(fillMask(polygons), [0, 0, 0], 1);
      return;
    }
  }
}

// ---- PNG ----------------------------------------------------------------------------------------

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (ISO 3309, as PNG uses it) of `bytes`. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit RGB PNG of `rgb` (rows top to bottom, 3 bytes a pixel). */
function encodePNG(width: number, height: number, rgb: Uint8Array): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, no filter set, no interlace
  const stride = width * 3;
  const rows = Buffer.alloc((stride + 1) * height); // each row: filter type 0, then the pixels
  for (let y = 0; y < height; ++y) rows.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', new Uint8Array(0))]);
}

/** The scene as an 8-bit RGB PNG of `width` x `height` pixels. */
export function renderPNG(scene: ChartScene): Buffer {
  const canvas = new Canvas(scene.width, scene.height);
  for (const item of scene.items) drawItem(canvas, item, scene.plotArea);
  return encodePNG(scene.width, scene.height, canvas.rgb8());
}
