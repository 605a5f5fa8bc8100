/**
 * The analyzer's state as plain JSON, and back: what `--state` keeps per log so that the next run
 * goes on from where this one stopped (incremental.ts). The state is a graph of class instances
 * (RunAnalysis, FileSink, Series, TracebackTracker, ...), Maps, Sets, typed arrays and plain data,
 * with shared references (an exception is both in `exceptions` and in its signal, a chained one
 * points at its cause). Rather than one hand-written toJSON per class (which every new per-format
 * field would have to join), the graph is walked generically:
 * - an object seen twice is written once and referred to by its number (identity is kept);
 * - a class instance is tagged with its class, whose prototype is restored; only classes found in
 *   the catalogue (built from a fresh analyzer, see `catalogue`) are accepted, anything else makes
 *   `snapshot` throw, and the caller then keeps no state (the next run reads the file again);
 * - functions (a bound callback) are left out and rebuilt by the class's `reviveSnapshot()`;
 *   Buffers (per-read caches keyed on a buffer's identity) become null;
 * - numbers JSON cannot hold (NaN, ±Infinity, -0) and undefined are tagged.
 * Plain-JSON per-format state (numbers, strings, arrays, objects) survives as it is.
 */
import { fromIntegerDeltas, fromProgression, integerDeltas, progression, usedBytes } from "./typed-arrays.ts";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class NotSnapshottable extends Error {}

const TYPED = { Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array, Uint8ClampedArray } as const;
type TypedName = keyof typeof TYPED;

/** Class name -> prototype, found by walking example objects (and their nested instances). */
export function catalogue(examples: readonly unknown[]): Map<string, object> {
  const out = new Map<string, object>();
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== "object" || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) return;
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto && proto !== Object.prototype && proto !== Array.prototype && proto !== Map.prototype && proto !== Set.prototype && !(v instanceof RegExp)) {
      const name = (proto.constructor as { name?: string } | undefined)?.name;
      if (name && !out.has(name)) out.set(name, proto);
    }
    if (v instanceof Map)
      for (const [k, x] of v) {
        walk(k);
        walk(x);
      }
    else if (v instanceof Set) for (const x of v) walk(x);
    else for (const x of Object.values(v)) walk(x);
  };
  for (const e of examples) walk(e);
  return out;
}

function num(n: number): Json {
  if (Number.isNaN(n)) return { $n: "NaN" };
  if (n === Number.POSITIVE_INFINITY) return { $n: "Inf" };
  if (n === Number.NEGATIVE_INFINITY) return { $n: "-Inf" };
  if (Object.is(n, -0)) return { $n: "-0" };
  return n;
}

/**
 * Where a snapshot's typed arrays keep their bytes: given a BlobTable (a state file's binary part,
 * state-file.ts), as its parts, by number; without one, as base64 text in the JSON.
 */
export interface Blobs {
  add(bytes: Buffer): number;
}

/** The graph under `root` as JSON-able data; throws NotSnapshottable on what it cannot restore. */
export function snapshot(root: unknown, classes: Map<string, object>, blobs?: Blobs): Json {
  const ids = new Map<object, number>();
  const enc = (v: unknown): Json => {
    switch (typeof v) {
      case "undefined":
        return { $u: 1 };
      case "number":
        return num(v);
      case "string":
      case "boolean":
        return v;
      case "function":
        throw new NotSnapshottable("a function outside an object");
      case "bigint":
      case "symbol":
        throw new NotSnapshottable(`a ${typeof v}`);
    }
    if (v === null) return null;
    const o = v as object;
    if (Buffer.isBuffer(o)) return null;
    const known = ids.get(o);
    if (known !== undefined) return { $r: known };
    const id = ids.size;
    ids.set(o, id);
    if (ArrayBuffer.isView(o)) {
      const name = o.constructor.name as TypedName;
      if (!(name in TYPED)) throw new NotSnapshottable(`a ${name}`);
      // Growable arrays are mostly unused capacity (zeros): only the bytes up to the last non-zero one are kept.
      const bytes = Buffer.from(o.buffer, o.byteOffset, o.byteLength);
      const end = usedBytes(bytes);
      const n = (o as unknown as { length: number }).length;
      const used = Math.ceil(end / TYPED[name].BYTES_PER_ELEMENT);
      // Steps (whole numbers, mostly evenly spaced): a progression, or 1-2 bytes each as deltas
      // instead of 8, which is most of a state file's size (bench 8).
      const ap = progression(o as unknown as ArrayLike<number>, used);
      if (ap !== undefined) return { $i: id, $t: name, n, k: used, a: ap[0], d: ap[1] };
      const z = integerDeltas(o as unknown as ArrayLike<number>, used);
      if (z !== undefined) return blobs ? { $i: id, $t: name, n, k: used, zx: blobs.add(z) } : { $i: id, $t: name, n, k: used, z: z.toString("base64") };
      const raw = bytes.subarray(0, end);
      return blobs ? { $i: id, $t: name, n, bx: blobs.add(raw) } : { $i: id, $t: name, n, b: raw.toString("base64") };
    }
    if (Array.isArray(o)) return { $i: id, $a: o.map(enc) };
    if (o instanceof Map) return { $i: id, $m: [...o].map(([k, x]) => [enc(k), enc(x)]) };
    if (o instanceof Set) return { $i: id, $s: [...o].map(enc) };
    if (o instanceof RegExp) return { $i: id, $re: o.source, f: o.flags, l: o.lastIndex };
    const proto = Object.getPrototypeOf(o) as object | null;
    let cls: string | undefined;
    if (proto !== Object.prototype && proto !== null) {
      cls = (proto.constructor as { name?: string } | undefined)?.name;
      if (!cls || classes.get(cls) !== proto) throw new NotSnapshottable(`an instance of ${cls ?? "an anonymous class"}`);
    }
    const fields: { [k: string]: Json } = {};
    // Object.keys, not Object.entries: no [key, value] array per field (a cron tick walks ~37,000 objects).
    const record = o as Record<string, unknown>;
    for (const k of Object.keys(record)) {
      const x = record[k];
      if (typeof x !== "function") fields[k] = enc(x);
    }
    return cls ? { $i: id, $c: cls, o: fields } : { $i: id, $o: fields };
  };
  return enc(root);
}

/** The graph back from `snapshot`'s data (and the parts of its BlobTable); throws (a plain Error) on data it did not write. */
export function restore(data: Json, classes: Map<string, object>, parts: readonly Uint8Array[] = []): unknown {
  const part = (i: unknown): Uint8Array => {
    const p = typeof i === "number" ? parts[i] : undefined;
    if (!p) throw new Error(`snapshot: no binary part ${String(i)}`);
    return p;
  };
  const byId = new Map<number, unknown>();
  const revive: { reviveSnapshot(): void }[] = [];
  const dec = (v: Json): unknown => {
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) throw new Error("snapshot: a bare array");
    if ("$u" in v) return undefined;
    if ("$n" in v) return v.$n === "NaN" ? Number.NaN : v.$n === "Inf" ? Number.POSITIVE_INFINITY : v.$n === "-Inf" ? Number.NEGATIVE_INFINITY : -0;
    if ("$r" in v) {
      if (!byId.has(v.$r as number)) throw new Error(`snapshot: reference ${String(v.$r)} before its object`);
      return byId.get(v.$r as number);
    }
    const id = v.$i as number;
    if ("$t" in v) {
      const Ctor = TYPED[v.$t as TypedName];
      if (!Ctor) throw new Error(`snapshot: unknown array type ${String(v.$t)}`);
      const n = Number(v.n);
      if (!Number.isInteger(n) || n < 0) throw new Error("snapshot: a bad typed array");
      const arr = new Ctor(n);
      if ("d" in v) fromProgression(Number(v.a), Number(v.d), Number(v.k), arr);
      else if ("z" in v) fromIntegerDeltas(Buffer.from(String(v.z), "base64"), Number(v.k), arr);
      else if ("zx" in v) fromIntegerDeltas(part(v.zx), Number(v.k), arr);
      else {
        const bytes = "bx" in v ? part(v.bx) : Buffer.from(String(v.b), "base64");
        if (bytes.length > n * Ctor.BYTES_PER_ELEMENT) throw new Error("snapshot: a bad typed array");
        new Uint8Array(arr.buffer).set(bytes);
      }
      byId.set(id, arr);
      return arr;
    }
    if ("$a" in v) {
      const arr: unknown[] = [];
      byId.set(id, arr);
      for (const x of v.$a as Json[]) arr.push(dec(x));
      return arr;
    }
    if ("$m" in v) {
      const m = new Map<unknown, unknown>();
      byId.set(id, m);
      for (const [k, x] of v.$m as [Json, Json][]) m.set(dec(k), dec(x));
      return m;
    }
    if ("$s" in v) {
      const s = new Set<unknown>();
      byId.set(id, s);
      for (const x of v.$s as Json[]) s.add(dec(x));
      return s;
    }
    if ("$re" in v) {
      const re = new RegExp(String(v.$re), String(v.f));
      re.lastIndex = Number(v.l);
      byId.set(id, re);
      return re;
    }
    let target: Record<string, unknown>;
    let fields: { [k: string]: Json };
    if ("$c" in v) {
      const proto = classes.get(String(v.$c));
      if (!proto) throw new Error(`snapshot: unknown class ${String(v.$c)}`);
      target = Object.create(proto) as Record<string, unknown>;
      fields = v.o as { [k: string]: Json };
      if (typeof (target as { reviveSnapshot?: unknown }).reviveSnapshot === "function") revive.push(target as unknown as { reviveSnapshot(): void });
    } else {
      target = {};
      fields = v.$o as { [k: string]: Json };
    }
    if (typeof fields !== "object" || fields === null) throw new Error("snapshot: an object without fields");
    byId.set(id, target);
    for (const k of Object.keys(fields)) target[k] = dec(fields[k]!);
    return target;
  };
  const root = dec(data);
  for (const r of revive) r.reviveSnapshot();
  return root;
}

/** Stands for "the same as in the base snapshot at this place" (see `shareWith`). */
const SAME = { $same: 1 } as const;
const isSame = (v: Json): boolean => typeof v === "object" && v !== null && !Array.isArray(v) && v.$same === 1 && Object.keys(v).length === 1;

/**
 * `cur` with every part equal to `base`'s part at the same place replaced by a marker. The logs of
 * a record share one analyzer, so the stderr log's snapshot repeats the stdout one's (its series
 * above all): kept shared, a state file is about half the size. `snapshot` never writes `$same`.
 */
export function shareWith(base: Json, cur: Json): Json {
  const d = diff(base, cur);
  return d === undefined ? SAME : d;
}

/** undefined: equal. */
function diff(b: Json | undefined, c: Json): Json | undefined {
  if (c === null || typeof c !== "object") return b === c ? undefined : c;
  if (b === null || typeof b !== "object" || b === undefined || Array.isArray(b) !== Array.isArray(c)) return c;
  let changed = false;
  if (Array.isArray(c)) {
    const ba = b as Json[];
    if (ba.length !== c.length) changed = true;
    const out = c.map((x, i) => {
      const d = i < ba.length ? diff(ba[i], x) : x;
      if (d === undefined) return SAME;
      changed = true;
      return d;
    });
    return changed ? out : undefined;
  }
  const bo = b as { [k: string]: Json };
  const out: { [k: string]: Json } = {};
  let keys = 0;
  for (const k of Object.keys(c)) {
    keys += 1;
    const d = Object.hasOwn(bo, k) ? diff(bo[k], c[k]!) : c[k]!;
    if (d === undefined) out[k] = SAME;
    else {
      out[k] = d;
      changed = true;
    }
  }
  return changed || keys !== Object.keys(bo).length ? out : undefined;
}

/** Reverses `shareWith`; throws on a marker with nothing in `base` at its place. */
export function unshare(base: Json | undefined, d: Json): Json {
  if (isSame(d)) {
    if (base === undefined) throw new Error("snapshot: a shared part without its base");
    return base;
  }
  if (d === null || typeof d !== "object") return d;
  if (Array.isArray(d)) return d.map((x, i) => unshare(Array.isArray(base) ? base[i] : undefined, x));
  const bo = base !== null && typeof base === "object" && !Array.isArray(base) ? base : undefined;
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(d)) out[k] = unshare(bo?.[k], x);
  return out;
}
