/**
 * Sums a Chrome trace of libtorch's profiler (what `Trainer.stopProfile` writes) by operator:
 * each operator's self time (its events' durations less the events nested directly inside
 * them, on the same thread), as PyTorch's `key_averages()` reports "Self CPU".
 */

/** One operator of a profile summary. */
export interface ProfileEntry {
  /** The operator's name, as the profiler records it ('aten::mm', 'AddmmBackward0', ...). */
  name: string;
  /** Milliseconds spent in the operator itself, outside the operators it called. */
  selfMs: number;
  /** Milliseconds from entry to exit, the operators it called included. */
  totalMs: number;
  /** How many times it ran. */
  calls: number;
  /** Its self time as a percentage of all self time in the trace. */
  percent: number;
}

interface TraceEvent {
  name: string;
  ts: number;
  dur: number;
  tid: number | string;
}

function eventsOf(trace: string): TraceEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(trace);
  } catch (err) {
    throw new Error(`summarizeProfile: the trace is not JSON (${(err as Error).message}); give what Trainer.stopProfile wrote`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { traceEvents?: unknown }).traceEvents;
  if (!Array.isArray(list)) throw new Error('summarizeProfile: the trace must be a JSON array of events (or {traceEvents: [...]})');
  return list.filter((e): e is TraceEvent => typeof e === 'object' && e !== null && (e as { ph?: unknown }).ph === 'X' &&
    typeof (e as TraceEvent).name === 'string' && typeof (e as TraceEvent).ts === 'number' && typeof (e as TraceEvent).dur === 'number');
}

/**
 * The operators of `trace` (a Chrome trace's JSON text) by self time, longest first.
 * @param divideBy divides the times and calls (e.g. by the number of profiled steps, for figures per step).
 */
export function summarizeProfile(trace: string, divideBy = 1): ProfileEntry[] {
  if (!(divideBy > 0)) throw new RangeError(`summarizeProfile: divideBy must be positive, got ${divideBy}`);
  const byThread = new Map<number | string, TraceEvent[]>();
  for (const e of eventsOf(trace)) {
    const list = byThread.get(e.tid) ?? [];
    list.push(e);
    byThread.set(e.tid, list);
  }
  const sums = new Map<string, { self: number; total: number; calls: number }>();
  for (const events of byThread.values()) {
    // outer events first: earlier start, then longer
    events.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const open: { event: TraceEvent; self: number }[] = [];
    const close = () => {
      const { event, self } = open.pop()!;
      const sum = sums.get(event.name) ?? { self: 0, total: 0, calls: 0 };
      sum.self += Math.max(self, 0);
      sum.total += event.dur;
      sum.calls += 1;
      sums.set(event.name, sum);
    };
    for (const event of events) {
      while (open.length > 0 && event.ts >= open[open.length - 1].event.ts + open[open.length - 1].event.dur) close();
      if (open.length > 0) open[open.length - 1].self -= event.dur;
      open.push({ event, self: event.dur });
    }
    while (open.length > 0) close();
  }
  let all = 0;
  for (const s of sums.values()) all += s.self;
  return [...sums.entries()]
    .map(([name, s]) => ({ name, selfMs: s.self / 1e3 / divideBy, totalMs: s.total / 1e3 / divideBy, calls: s.calls / divideBy, percent: all > 0 ? (100 * s.self) / all : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs);
}
