// `slurmpipe completion bash|zsh`: the scripts a shell sources. They hold no list of flags: each
// TAB asks the command itself (`<command> --get-yargs-completions WORDS...`), which answers from the
// option definitions its --help is printed from (core's cli/completion.ts). The answer's first
// line is `words` (candidates follow, one a line) or `files` (complete a file name).

export const SHELLS = ["bash", "zsh"] as const;
export type Shell = (typeof SHELLS)[number];

function bash(names: string[]): string {
  return `# bash completion for slurmpipe; load it with
#   source <(slurmpipe completion bash)
# or install it: slurmpipe completion bash > ~/.local/share/bash-completion/completions/slurmpipe
_slurmpipe_complete() {
  local cur=\${COMP_WORDS[COMP_CWORD]} reply body
  COMPREPLY=()
  reply=$(SLURMPIPE_COMPLETION_SHELL=bash "\${COMP_WORDS[0]}" --get-yargs-completions "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  case $reply in
    files*)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      ;;
    words$'\\n'*)
      body=\${reply#words$'\\n'}
      mapfile -t COMPREPLY <<<"$body"
      ;;
  esac
}
complete -F _slurmpipe_complete ${names.join(" ")}
`;
}

function zsh(names: string[]): string {
  return `#compdef ${names.join(" ")}
# zsh completion for slurmpipe; load it with
#   source <(slurmpipe completion zsh)       (after compinit)
# or install it as _slurmpipe in a directory of $fpath.
_slurmpipe() {
  local reply
  local -a lines candidates
  reply=$(SLURMPIPE_COMPLETION_SHELL=zsh \${words[1]} --get-yargs-completions "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)reply}")
  case $lines[1] in
    files) _files ;;
    words)
      candidates=("\${(@)lines[2,-1]}")
      (( \${#candidates} )) && _describe -t values 'slurmpipe' candidates
      ;;
  esac
}
# Autoloaded from $fpath this file is the completion function's body: complete now. Sourced: register.
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _slurmpipe "$@"; else compdef _slurmpipe ${names.join(" ")}; fi
`;
}

export function completionScript(shell: Shell, commands: string[]): string {
  const names = ["slurmpipe", ...commands];
  return shell === "bash" ? bash(names) : zsh(names);
}

/** What `slurmpipe` itself completes: a command name first, then a shell after `completion`. */
export function dispatcherWords(commands: string[], words: string[]): string[] | undefined {
  if (words.length === 1) return ["completion", ...commands].filter((c) => c.startsWith(words[0]!));
  if (words.length === 2 && words[0] === "completion") return SHELLS.filter((s) => s.startsWith(words[1]!));
  return undefined;
}
