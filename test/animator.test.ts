import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inflateSync } from 'zlib';
import { Animator } from '../lib/d2l/animator';

// ---- What the tests read back: minimal XML, SVG and PNG readers written for these tests ----

/** Checks that `xml` is one well-formed element tree: balanced tags, quoted attributes, escaped text. */
function assertWellFormedXml(xml: string): void {
  const entity = /&(?!(?:#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);)/i;
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  let at = 0;
  const declaration = /^<\?xml [^?]*\?>\s*/.exec(xml);
  if (declaration) at = declaration[0].length;
  const stack: string[] = [];
  let roots = 0;
  while (at < xml.length) {
    token.lastIndex = at;
    const match = token.exec(xml);
    assert.ok(match, `not XML at ${at}: ${JSON.stringify(xml.slice(at, at + 40))}`);
    const [whole, closing, name, attributes, selfClosing, text] = match;
    if (text !== undefined) {
      assert.ok(stack.length > 0 || text.trim() === '', `text outside the root: ${JSON.stringify(text)}`);
      assert.ok(!entity.test(text), `unescaped & in ${JSON.stringify(text)}`);
    } else if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes nothing open`);
    } else {
      assert.ok(!entity.test(attributes), `unescaped & in <${name}${attributes}>`);
      const names = [...attributes.matchAll(/([\w:.-]+)="/g)].map((m) => m[1]);
      assert.equal(new Set(names).size, names.length, `repeated attribute in <${name}>`);
      if (stack.length === 0) ++roots;
      if (!selfClosing) stack.push(name);
    }
    at += whole.length;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'one root element');
}

type Attributes = Record<string, string>;

/** Attributes of every `<name ...>` element in `svg`, in document order. */
function elements(svg: string, name: string): Attributes[] {
  return [...svg.matchAll(new RegExp(`<${name}\\s([^>]*?)/?>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1].matchAll(/([\w:.-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
  );
}

/** The text content of every `<text>` element, markup removed and entities decoded. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/g)].map((m) =>
    m[1].replace(/<[^>]*>/g, '').replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))),
  );
}

function points(attribute: string): [number, number][] {
  return attribute.split(' ').map((pair) => pair.split(',').map(Number) as [number, number]);
}

function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; ++k) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

interface Image {
  width: number;
  height: number;
  pixel(x: number, y: number): [number, number, number];
}

/** Reads an 8-bit RGB PNG, asserting its structure on the way: signature, chunk CRCs, sizes. */
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
  assert.equal(header.length, 13);
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  assert.deepEqual([...header.subarray(8)], [8, 2, 0, 0, 0], 'bit depth 8, RGB, no interlace');
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * 3;
  assert.equal(raw.length, height * (stride + 1), 'inflated image data size');
  // Undo the per-row filters (PNG spec, section 9).
  const rgb = new Uint8Array(height * stride);
  for (let y = 0; y < height; ++y) {
    const filter = raw[y * (stride + 1)];
    assert.ok(filter <= 4, `filter type ${filter}`);
    for (let i = 0; i < stride; ++i) {
      const value = raw[y * (stride + 1) + 1 + i];
      const a = i >= 3 ? rgb[y * stride + i - 3] : 0;
      const b = y > 0 ? rgb[(y - 1) * stride + i] : 0;
      const c = i >= 3 && y > 0 ? rgb[(y - 1) * stride + i - 3] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      rgb[y * stride + i] = (value + predictor) & 255;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => {
      const at = (Math.round(y) * width + Math.round(x)) * 3;
      return [rgb[at], rgb[at + 1], rgb[at + 2]];
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
      if (got.every((v, k) => Math.abs(v - want[k]) <= tolerance)) return true;
    }
  }
  return false;
}

// ---- The chart train_ch13 draws ----------------------------------------------------------------

const LEGEND = ['train loss', 'train acc', 'test acc'];
// matplotlib's colours for d2l's fmts '-', 'm--', 'g-.': cycle colour C0, 'm', 'g'.
const COLORS = ['#1f77b4', '#bf00bf', '#008000'];
const NUM_EPOCHS = 3;

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

/** The plot area of an SVG chart (its clip rectangle): left, top, width, height. */
function plotArea(svg: string): number[] {
  const [area] = elements(/<clipPath id="plot-area">.*?<\/clipPath>/.exec(svg)?.[0] ?? '', 'rect');
  assert.ok(area, 'plot area');
  return [area.x, area.y, area.width, area.height].map(Number);
}

/** The legend's box of an SVG chart (the one rounded rectangle): left, top, width, height. */
function legendBox(svg: string): number[] {
  const box = elements(svg, 'rect').find((r) => r.rx !== undefined);
  assert.ok(box, 'legend box');
  return [box.x, box.y, box.width, box.height].map(Number);
}

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
      assert.throws(() => new Animator({ ylim: [0, 1], yscale: 'log' }), /positive on a log axis/);
      assert.throws(() => new Animator({ fmts: ['-', 'q'] }), /unknown character "q"/);
      assert.throws(() => new Animator({ fmts: ['r--:'] }), /two line styles/);
      assert.throws(() => new Animator({ width: 10.5 }), /width/);
    });
  });

  describe('toSVG', () => {
    const svg = trainCh13Chart(10).toSVG();
    const [left, top, width, height] = plotArea(svg);

    it('is a well-formed SVG document of the requested size', () => {
      assertWellFormedXml(svg);
      const [root] = elements(svg, 'svg');
      assert.equal(root.xmlns, 'http://www.w3.org/2000/svg');
      assert.equal(root.width, '350');
      assert.equal(root.height, '250');
      assert.ok(left > 20 && top > 5 && left + width < 350 && top + height < 220, `plot area ${[left, top, width, height]}`);
      const custom = new Animator({ width: 640, height: 480 }).toSVG();
      assertWellFormedXml(custom);
      assert.equal(elements(custom, 'svg')[0].viewBox, '0 0 640 480');
    });

    it('draws three series as polylines mapped through xlim and ylim', () => {
      const lines = elements(svg, 'polyline').filter((p) => p.class === 'series' && p['clip-path'] === 'url(#plot-area)');
      assert.deepEqual(lines.map((p) => p['data-series']), ['0', '1', '2']);
      const data = trainCh13Chart(10).series();
      lines.forEach((line, i) => {
        const drawn = points(line.points);
        assert.equal(drawn.length, i < 2 ? 5 * NUM_EPOCHS : NUM_EPOCHS);
        drawn.forEach(([px, py], j) => {
          const [x, y] = data[i].points[j];
          assert.ok(Math.abs(px - (left + ((x - 1) / (NUM_EPOCHS - 1)) * width)) < 0.01, `x of point ${j} of series ${i}`);
          assert.ok(Math.abs(py - (top + height - y * height)) < 0.01, `y of point ${j} of series ${i}`);
        });
        assert.equal(line.stroke, COLORS[i]);
      });
      // matplotlib's dash patterns for 1.5 pt lines at 100 dpi: (3.7, 1.6) and (6.4, 1.6, 1, 1.6)
      // times 1.5 pt, at 100/72 pixels a point.
      assert.equal(lines[0]['stroke-dasharray'], undefined);
      assert.equal(lines[1]['stroke-dasharray'], '7.71 3.33');
      assert.equal(lines[2]['stroke-dasharray'], '13.33 3.33 2.08 3.33');
    });

    it('has spines on the plot area, ticks as matplotlib places them, labels and a legend', () => {
      const spines = elements(svg, 'line').filter((l) => l.stroke === '#000000' && l['stroke-linecap'] === 'square');
      const edges = spines.map((l) => [l.x1, l.y1, l.x2, l.y2].map(Number));
      const right = left + width;
      const bottom = top + height;
      for (const edge of [[left, top, left, bottom], [right, top, right, bottom], [left, top, right, top], [left, bottom, right, bottom]]) {
        assert.ok(edges.some((e) => e.every((v, k) => Math.abs(v - edge[k]) < 0.01)), `spine ${edge}`);
      }
      const labels = texts(svg);
      for (const tick of ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0', '1.0', '1.5', '2.0', '2.5', '3.0']) assert.ok(labels.includes(tick), tick);
      for (const label of [...LEGEND, 'epoch']) assert.equal(labels.filter((t) => t === label).length, 1, label);
      const handles = elements(svg, 'polyline').filter((p) => p.class === 'series' && p['clip-path'] === undefined);
      assert.deepEqual(handles.map((h) => h.stroke), COLORS);
    });

    it("autoscales without xlim/ylim as matplotlib does: data range plus 5%, NaN left out", () => {
      const chart = new Animator();
      for (const [x, y] of [[0, NaN], [1, 0], [3, 1], [5, 0.5]]) chart.add(x, [y]);
      const out = chart.toSVG();
      const [left, top, width, height] = plotArea(out);
      // xlim (0.8, 5.2), ylim (-0.05, 1.05); the NaN splits nothing off (it is first).
      const lines = elements(out, 'polyline');
      assert.equal(lines.length, 1);
      const expected = [[1, 0], [3, 1], [5, 0.5]].map(([x, y]) => [left + ((x - 0.8) / 4.4) * width, top + height - ((y + 0.05) / 1.1) * height]);
      points(lines[0].points).forEach((p, i) => p.forEach((v, k) => assert.ok(Math.abs(v - expected[i][k]) < 0.01, `point ${i}`)));
    });

    it('escapes text, rotates the y label and writes log-axis exponents', () => {
      const chart = new Animator({ ylabel: 'loss <&>', legend: ['a "b"'], yscale: 'log', ylim: [0.01, 10], fmts: ['go'] });
      for (const [x, y] of [[1, 10], [2, 1], [3, 0.01]]) chart.add(x, [y]);
      const out = chart.toSVG();
      assertWellFormedXml(out);
      const labels = texts(out);
      assert.ok(labels.includes('loss <&>') && labels.includes('a "b"'));
      assert.ok(['10\u22122', '10\u22121', '100', '101'].every((t) => labels.includes(t)), labels.join('|'));
      assert.match(out, /<text [^>]*transform="rotate\(-90 [^>]*>loss &#60;&#38;&#62;<\/text>/);
      const markers = elements(out, 'g').filter((g) => g.class === 'markers');
      assert.equal(markers.length, 2, 'the series and its legend handle');
      assert.equal(elements(out, 'circle').length, 4);
      assert.equal(elements(out, 'polyline').length, 0, "'go': markers, no line");
    });
  });

  describe('toPNG', () => {
    const chart = trainCh13Chart(10);
    const image = decodePng(chart.toPNG());
    const svg = chart.toSVG();
    const [left, top, width, height] = plotArea(svg);
    const legend = legendBox(svg);
    const toPixel = ([x, y]: [number, number]): [number, number] => [left + ((x - 1) / (NUM_EPOCHS - 1)) * width, top + height - y * height];
    const inLegend = ([x, y]: [number, number]): boolean =>
      x > legend[0] - 3 && x < legend[0] + legend[2] + 3 && y > legend[1] - 3 && y < legend[1] + legend[3] + 3;

    it('is a valid PNG of the requested size', () => {
      assert.equal(image.width, 350);
      assert.equal(image.height, 250);
      const large = decodePng(trainCh13Chart(10, { width: 700, height: 500 }).toPNG());
      assert.deepEqual([large.width, large.height], [700, 500]);
    });

    it('draws each series in its colour along its segments', () => {
      chart.series().forEach((series, i) => {
        let samples = 0;
        let hits = 0;
        for (let j = 1; j < series.points.length; ++j) {
          if (series.points[j - 1][0] < 1) continue; // left of xlim: clipped away
          const a = toPixel(series.points[j - 1]);
          const b = toPixel(series.points[j]);
          for (let t = 0.05; t < 0.97; t += 0.05) {
            const p: [number, number] = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
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
      // Clipped: nothing of the series left of the plot area, where x < 1.
      for (let y = top; y < top + height; ++y) {
        for (const color of COLORS) assert.ok(!colorNear(image, left - 4, y, color, 60), `series drawn outside the plot area at y=${y}`);
      }
    });

    it('has a white background, grey grid, black axes and text', () => {
      assert.deepEqual(image.pixel(2, 2), [255, 255, 255]);
      // Between grid lines and away from the data: the middle of the cell at x in [1, 1.5], y in [0.8, 1].
      assert.deepEqual(image.pixel(...toPixel([1.25, 0.9])), [255, 255, 255]);
      assert.ok(colorNear(image, ...toPixel([2, 0.6]), '#b0b0b0', 8), 'grid line at y = 0.6');
      assert.ok(colorNear(image, left, top + height / 2, '#000000', 8), 'left spine');
      let dark = 0;
      for (let y = top + height + 5; y < image.height; ++y) for (let x = 0; x < image.width; ++x) if (image.pixel(x, y)[0] < 100) ++dark;
      assert.ok(dark > 100, `${dark} dark pixels of tick labels and the x label`);
      let legendDark = 0;
      for (let y = legend[1]; y < legend[1] + legend[3]; ++y) {
        for (let x = legend[0]; x < legend[0] + legend[2]; ++x) if (image.pixel(x, y)[0] < 100) ++legendDark;
      }
      assert.ok(legendDark > 100, `${legendDark} dark pixels of legend text`);
    });
  });

  describe('save', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'animator-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('writes SVG or PNG by extension, and both without one', async () => {
      const chart = trainCh13Chart(10);
      await chart.save(path.join(dir, 'a.svg'));
      await chart.save(path.join(dir, 'b.PNG'));
      await chart.save(path.join(dir, 'c'));
      assert.deepEqual(fs.readdirSync(dir).sort(), ['a.svg', 'b.PNG', 'c.png', 'c.svg']);
      assert.equal(fs.readFileSync(path.join(dir, 'a.svg'), 'utf8'), chart.toSVG());
      assert.equal(fs.readFileSync(path.join(dir, 'c.svg'), 'utf8'), chart.toSVG());
      assert.deepEqual(fs.readFileSync(path.join(dir, 'b.PNG')), chart.toPNG());
      assert.deepEqual(fs.readFileSync(path.join(dir, 'c.png')), chart.toPNG());
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
          for (const [ext, check] of [['svg', (b: Buffer) => assertWellFormedXml(b.toString('utf8'))], ['png', decodePng]] as const) {
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
      assert.equal(fs.readFileSync(`${file}.svg`, 'utf8'), chart.toSVG());
      assert.deepEqual(fs.readFileSync(`${file}.png`), chart.toPNG());
      assert.deepEqual(fs.readdirSync(dir).sort(), ['chart.png', 'chart.svg'], 'no temporary files left');
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
