/**
 * Hostile words for remote paths and names: the injection corpus of core's quote.test.ts and
 * remote.test.ts (command substitution, quotes, separators, newlines, option-looking words),
 * restricted to what can be a file name (no NUL, no `/`). Each tries to create a file named PWNED
 * in the remote shell's working directory.
 */
export const HOSTILE_NAMES = ["$(touch PWNED)", "`touch PWNED`", "it's", 'say "hi"', "a;touch PWNED", "x\ny", " lead", "#hash", "back\\slash", "☃ ü", "*", "~", "$HOME", "tab\there", "!event", "-oProxyCommand=touch PWNED", "'; touch PWNED; '"];
