/**
 * Whether the JS thread is running a forward under `torch.jit.trace`, and the TracerWarning
 * that reading tensor values meanwhile emits (the graph cannot record what JS does with the
 * values: the trace freezes it). @internal
 */
let depth = 0;
const warned = new Set<string>();

/** Runs `body` as a forward being traced. */
export function tracing<T>(body: () => T): T {
  ++depth;
  try {
    return body();
  } finally {
    --depth;
  }
}

/** True while a forward is being traced. */
export function isTracing(): boolean {
  return depth > 0;
}

/**
 * Emits PyTorch's TracerWarning, once per kind of read and process, when called while a forward
 * is being traced: `what` is the read, e.g. 'Tensor.item()'.
 */
export function warnTracedRead(what: string): void {
  if (depth === 0 || warned.has(what)) return;
  warned.add(what);
  process.emitWarning(`${what} was called while tracing: the value becomes a constant of the graph, and control flow that depends on it ` +
    'is frozen as it went for the example inputs; the traced module might not generalize to other inputs', 'TracerWarning');
}
