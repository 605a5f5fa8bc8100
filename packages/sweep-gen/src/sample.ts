/**
 * Deterministic sampling in [0,1)^d. Every generator is indexable (point i is computed directly
 * from seed and i), so sampling streams without state, and the same seed gives the same points on
 * every machine: only 32-bit integer arithmetic (Math.imul) and exact float divisions are used.
 */
export type SampleMethod = "random" | "sobol" | "halton";
export const SAMPLE_METHODS: readonly SampleMethod[] = ["random", "sobol", "halton"];

/** lowbias32 (Chris Wellons' integer hash): a good avalanche 32 -> 32 bit mix. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** 32 random bits for (seed, index, stream): a counter-based generator, no state between calls. */
export function hashBits(seed: number, index: number, stream: number): number {
  const s = mix32((seed >>> 0) ^ 0x9e3779b9);
  const hi = Math.floor(index / 0x100000000);
  return mix32(mix32(mix32(s ^ (index >>> 0)) ^ mix32(hi + 0x632be5ab)) ^ mix32(stream + 0x85ebca6b));
}

/** A uniform double in [0,1) with 53 random bits. */
export function hashUniform(seed: number, index: number, stream: number): number {
  const a = hashBits(seed, index, stream * 2);
  const b = hashBits(seed, index, stream * 2 + 1);
  return (a * 0x200000 + (b >>> 11)) / 0x20000000000000;
}

// Sobol direction numbers from Joe & Kuo, new-joe-kuo-6.21201 (dimensions 2..21): [s, a, m1..ms].
const JOE_KUO: readonly (readonly number[])[] = [
  [1, 0, 1],
  [2, 1, 1, 3],
  [3, 1, 1, 3, 1],
  [3, 2, 1, 1, 1],
  [4, 1, 1, 1, 3, 3],
  [4, 4, 1, 3, 5, 13],
  [5, 2, 1, 1, 5, 5, 17],
  [5, 4, 1, 1, 5, 5, 5],
  [5, 7, 1, 1, 7, 11, 19],
  [5, 11, 1, 1, 5, 1, 1],
  [5, 13, 1, 1, 1, 3, 11],
  [5, 14, 1, 3, 5, 5, 31],
  [6, 1, 1, 3, 3, 9, 7, 49],
  [6, 13, 1, 1, 1, 15, 21, 21],
  [6, 16, 1, 3, 1, 13, 27, 49],
  [6, 19, 1, 1, 1, 15, 7, 5],
  [6, 22, 1, 3, 1, 15, 13, 25],
  [6, 25, 1, 1, 5, 5, 19, 61],
  [7, 1, 1, 3, 7, 11, 23, 15, 103],
  [7, 4, 1, 3, 7, 13, 13, 15, 69],
];
export const SOBOL_MAX_DIMS = JOE_KUO.length + 1;
const BITS = 32;

function directionNumbers(dim: number): Uint32Array {
  const v = new Uint32Array(BITS + 1);
  if (dim === 0) {
    for (let i = 1; i <= BITS; i++) v[i] = 2 ** (BITS - i);
    return v;
  }
  const [s, a, ...m] = JOE_KUO[dim - 1]!;
  for (let i = 1; i <= BITS; i++) {
    if (i <= s!) v[i] = (m[i - 1]! * 2 ** (BITS - i)) >>> 0;
    else {
      let x = v[i - s!]! ^ (v[i - s!]! >>> s!);
      for (let k = 1; k < s!; k++) if ((a! >>> (s! - 1 - k)) & 1) x ^= v[i - k]!;
      v[i] = x >>> 0;
    }
  }
  return v;
}

const PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113];
export const HALTON_MAX_DIMS = PRIMES.length;

function radicalInverse(n: number, base: number): number {
  let r = 0;
  let f = 1 / base;
  while (n > 0) {
    r += f * (n % base);
    n = Math.floor(n / base);
    f /= base;
  }
  return r;
}

export interface Sampler {
  /** Point `i` (0-based) as `dims` numbers in [0,1). */
  point(i: number): number[];
}

/**
 * random: independent uniforms from a counter-based hash of (seed, i, dimension).
 * sobol:  Sobol' points (Joe-Kuo directions, Gray-code order) with a seeded digital shift, which
 *         keeps the net structure; use n = a power of two for the best balance.
 * halton: Halton points (bases 2, 3, 5, ...; index from 1) with a seeded Cranley-Patterson shift.
 */
export function createSampler(method: SampleMethod, dims: number, seed: number): Sampler {
  if (method === "random") {
    return { point: (i) => Array.from({ length: dims }, (_, d) => hashUniform(seed, i, d)) };
  }
  if (method === "sobol") {
    if (dims > SOBOL_MAX_DIMS) throw new RangeError(`sobol supports at most ${SOBOL_MAX_DIMS} sampled dimensions (got ${dims}); use halton or random`);
    const dirs = Array.from({ length: dims }, (_, d) => directionNumbers(d));
    const shifts = Array.from({ length: dims }, (_, d) => hashBits(seed, 0xffffffff, 1000 + d));
    return {
      point(i) {
        if (i >= 2 ** BITS) throw new RangeError("sobol supports at most 2^32 points");
        const gray = (i ^ (i >>> 1)) >>> 0;
        return dirs.map((v, d) => {
          let x = 0;
          for (let b = 0; b < BITS && gray >>> b; b++) if ((gray >>> b) & 1) x ^= v[b + 1]!;
          return ((x ^ shifts[d]!) >>> 0) / 2 ** BITS;
        });
      },
    };
  }
  if (dims > HALTON_MAX_DIMS) throw new RangeError(`halton supports at most ${HALTON_MAX_DIMS} sampled dimensions (got ${dims}); use random`);
  const shifts = Array.from({ length: dims }, (_, d) => hashUniform(seed, 0xffffffff, 2000 + d));
  return {
    point: (i) =>
      PRIMES.slice(0, dims).map((base, d) => {
        const x = radicalInverse(i + 1, base) + shifts[d]!;
        return x >= 1 ? x - 1 : x;
      }),
  };
}

/** Unshifted Sobol' point, for checking the direction numbers against a reference. */
export function sobolReference(i: number, dims: number): number[] {
  const gray = (i ^ (i >>> 1)) >>> 0;
  return Array.from({ length: dims }, (_, d) => {
    const v = directionNumbers(d);
    let x = 0;
    for (let b = 0; b < BITS; b++) if ((gray >>> b) & 1) x ^= v[b + 1]!;
    return (x >>> 0) / 2 ** BITS;
  });
}
