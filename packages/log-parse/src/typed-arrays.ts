/**
 * How snapshot.ts keeps a typed array (a series' values and steps): only its used
 * part (capacity is zeros), and whole numbers as a progression (first, step) or as zigzag varint
 * deltas (1-2 bytes each instead of 8: most of a state file's size, bench 8).
 */
/** Whole numbers within ±2^50: their deltas, zigzagged, fit a double exactly. */
const DELTA_LIMIT = 2 ** 50;

/**
 * The first `count` elements as zigzag varint deltas, when every one is a whole number within
 * ±DELTA_LIMIT (not -0); undefined otherwise (the raw bytes are kept then).
 */
export function integerDeltas(a: ArrayLike<number>, count: number): Buffer | undefined {
  if (count < 8) return undefined;
  // Most value arrays are not whole numbers: tell before allocating (8 bytes per element).
  const x0 = a[0]!;
  if (!Number.isInteger(x0) || Math.abs(x0) > DELTA_LIMIT) return undefined;
  const out = Buffer.allocUnsafe(count * 8);
  let at = 0;
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const x = a[i]!;
    if (!Number.isInteger(x) || Math.abs(x) > DELTA_LIMIT || Object.is(x, -0)) return undefined;
    const d = x - prev;
    prev = x;
    let z = d >= 0 ? d * 2 : -d * 2 - 1;
    while (z >= 128) {
      out[at++] = (z % 128) | 128;
      z = Math.floor(z / 128);
    }
    out[at++] = z;
  }
  return out.subarray(0, at);
}

/**
 * [first, step] when the first `count` elements are whole numbers a, a+d, a+2d, ... within
 * ±DELTA_LIMIT (not -0): evenly logged steps mostly are.
 */
export function progression(a: ArrayLike<number>, count: number): [number, number] | undefined {
  if (count < 2) return undefined;
  const first = a[0]!;
  const d = a[1]! - first;
  // Whole first and last elements within the limit, and every element exactly first + i * d with
  // whole first and d: every element is whole and within it (|first + i * d| is at most the larger
  // end). A -0 equals 0 here, so it is looked for only where an element is 0.
  const last = a[count - 1]!;
  if (!Number.isInteger(first) || !Number.isInteger(d) || Math.abs(first) > DELTA_LIMIT || Math.abs(last) > DELTA_LIMIT) return undefined;
  for (let i = 0; i < count; i++) {
    const x = a[i]!;
    if (x !== first + i * d || (x === 0 && 1 / x < 0)) return undefined;
  }
  return [first, d];
}

/** Reverses progression into `into`; throws on data it did not write. */
export function fromProgression(first: number, d: number, count: number, into: { length: number; [i: number]: number }): void {
  if (!Number.isInteger(count) || count < 0 || count > into.length || !Number.isInteger(first) || !Number.isInteger(d)) throw new Error("snapshot: a bad typed array");
  for (let i = 0; i < count; i++) into[i] = first + i * d;
}

/** Reverses integerDeltas into `into` (its first `count` elements); throws on data it did not write. */
export function fromIntegerDeltas(bytes: Uint8Array, count: number, into: { length: number; [i: number]: number }): void {
  if (!Number.isInteger(count) || count < 0 || count > into.length) throw new Error("snapshot: a bad typed array");
  let at = 0;
  let prev = 0;
  for (let i = 0; i < count; i++) {
    let z = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length || scale > 2 ** 56) throw new Error("snapshot: a truncated typed array");
      const byte = bytes[at++]!;
      z += (byte & 127) * scale;
      if (byte < 128) break;
      scale *= 128;
    }
    prev += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    into[i] = prev;
  }
  if (at !== bytes.length) throw new Error("snapshot: a bad typed array");
}

/**
 * The length of `bytes` without its trailing zero bytes. Skipped a word at a time: a sample's
 * arrays are up to half unused capacity, and a byte loop over it was most of a snapshot's time.
 */
export function usedBytes(bytes: Buffer): number {
  let end = bytes.length;
  const whole = end - (end & 3);
  while (end > whole && bytes[end - 1] === 0) end -= 1;
  if (end === whole && bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, whole >> 2);
    let w = words.length;
    while (w > 0 && words[w - 1] === 0) w -= 1;
    end = w * 4;
  }
  while (end > 0 && bytes[end - 1] === 0) end -= 1;
  return end;
}
