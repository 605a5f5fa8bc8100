/**
 * One copy of each repeated string or string list. JSON.parse gives every record its own copies
 * of values that 100,000 records share (group, state, reason, script path, array id, job name,
 * timestamps, argv); commands that hold a whole sweep keep one copy each through a pool.
 */
export class StringPool {
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();

  get(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }

  /** A string goes through the pool; any other value is returned as it is. */
  value<T>(v: T): T {
    return typeof v === "string" ? (this.get(v) as T) : v;
  }

  /** A shared list: callers must not change it. */
  list(a: string[]): string[] {
    const key = a.join("\0");
    const known = this.lists.get(key);
    if (known !== undefined && known.length === a.length) return known;
    const pooled = a.map((s) => this.get(s));
    this.lists.set(key, pooled);
    return pooled;
  }
}
