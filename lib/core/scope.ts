/**
 * Deterministic memory: `tidy()` scopes release every tensor created inside them except the
 * ones the function returns; `keep()` exempts a tensor from every scope.
 *
 * Rules for asynchronous code: a scope is a synchronous stretch of the JS thread. `tidy()`
 * rejects a function that returns a Promise (tensors created after an `await` would land in
 * whatever scope is open at that moment), so in async code call `tidy()` around each
 * synchronous piece of work, or `dispose()` tensors explicitly.
 */

import { describe } from './describe';

// `using` (explicit resource management) calls [Symbol.dispose](). Node 18 lacks the symbol;
// Node's own polyfill, where it has one, is Symbol.for('nodejs.dispose').
if (typeof Symbol.dispose !== 'symbol') Object.defineProperty(Symbol, 'dispose', { value: Symbol.for('nodejs.dispose') });

/** Anything that owns native memory released by `dispose()`. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

/** Records a new tensor in the innermost open scope. @internal */
export function track(item: Disposable): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(item);
}

/** Removes `item` from every open scope: it outlives them and must be disposed by its owner. */
export function keep<T extends Disposable>(item: T): T {
  if (typeof item !== 'object' || item === null || typeof (item as Partial<Disposable>).dispose !== 'function') {
    throw new TypeError(`keep: expected a Tensor, Module or other object with dispose(); got ${describe(item)}`);
  }
  kept.add(item);
  for (const scope of scopes) scope.delete(item);
  return item;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

// The disposables reachable from a returned value: the value itself, or inside arrays, Maps,
// Sets and plain objects (nested). Walked with an explicit stack, not recursion, so that values
// nested as deep as memory allows cannot overflow the call stack; `seen` stops cycles.
function collect(root: unknown, found: Set<unknown>, seen: Set<unknown>): void {
  const todo: unknown[] = [root];
  while (todo.length > 0) {
    const value = todo.pop();
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    found.add(value);
    if (Array.isArray(value) || value instanceof Set) {
      for (const item of value) todo.push(item);
    } else if (value instanceof Map) {
      for (const item of value.values()) todo.push(item);
    } else if (Object.getPrototypeOf(value) === Object.prototype) {
      for (const item of Object.values(value as Record<string, unknown>)) todo.push(item);
    }
  }
}

/**
 * Runs `fn` and disposes every tensor created during it, except those reachable from its
 * return value (which move to the enclosing scope, if any) and those passed to `keep()`.
 * If `fn` throws, every tensor it created is disposed and the error propagates.
 * @throws TypeError when `fn` returns a Promise (see the module notes on async code).
 */
export function tidy<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw new TypeError('tidy(fn): fn must be a function');
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: R | undefined;
  let failed = true;
  try {
    result = fn();
    if (isThenable(result)) {
      throw new TypeError(
        'tidy(fn): fn returned a Promise; tidy scopes are synchronous. Call tidy() inside the async function ' +
          'around each synchronous piece of work, or dispose() tensors explicitly.');
    }
    failed = false;
  } finally {
    scopes.pop();
    const survivors = new Set<unknown>();
    if (!failed) collect(result, survivors, new Set());
    const parent = scopes.length > 0 ? scopes[scopes.length - 1] : undefined;
    for (const item of scope) {
      if (survivors.has(item)) parent?.add(item);
      else if (!kept.has(item)) item.dispose();
    }
  }
  return result as R;
}

/** Disposes every tensor found in `value` (a tensor, or arrays, Maps, Sets and plain objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<unknown>();
  collect(value, found, new Set());
  for (const item of found) {
    const d = item as Partial<Disposable>;
    if (typeof d.dispose === 'function' && 'isDisposed' in d) d.dispose();
  }
}

/** How many scopes are open (for tests and diagnostics). */
export function scopeDepth(): number {
  return scopes.length;
}
