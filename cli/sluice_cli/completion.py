"""`sluice completion bash|zsh`: a completion script written from the parser itself, so it never drifts.

Commands and their actions complete by name, options by flag, choices (`--kind`, `--status`, ...) by value, and
anything else as a file name."""

from __future__ import annotations

import argparse
import shlex


def _tree(parser: argparse.ArgumentParser, path: str, into: dict[str, tuple[list[str], list[str]]],
          choices: dict[str, list[str]]) -> None:
    words: list[str] = []
    flags: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words.append(name)
                _tree(sub, f"{path} {name}".strip(), into, choices)
        elif action.option_strings:
            flags += action.option_strings
            if action.choices:
                for flag in action.option_strings:
                    choices[f"{path or '-'}|{flag}"] = [str(c) for c in action.choices]
        elif action.choices:
            words += [str(c) for c in action.choices]
    into[path] = (words, flags)


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    tree: dict[str, tuple[list[str], list[str]]] = {}
    choices: dict[str, list[str]] = {}
    _tree(parser, "", tree, choices)
    cases = "\n".join(f"        {shlex.quote(path or '-')}) words={shlex.quote(' '.join(words))}; "
                      f"flags={shlex.quote(' '.join(flags))};;" for path, (words, flags) in sorted(tree.items()))
    values = "\n".join(f"        {shlex.quote(key)}) COMPREPLY=($(compgen -W {shlex.quote(' '.join(options))} -- "
                       '"$cur")); return;;' for key, options in sorted(choices.items()))
    bash = f"""# sluice completion ({shell}); load with: eval "$(sluice completion {shell})"
_sluice_complete() {{
    local cur prev path="" words flags i w
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        case "$w" in -*) continue;; esac
        if _sluice_known "${{path:+$path }}$w"; then path="${{path:+$path }}$w"; fi
    done
    case "${{path:--}}|$prev" in
{values}
    esac
    case "${{path:--}}" in
{cases}
        *) words=""; flags="";;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -n "$words" ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
_sluice_known() {{
    case "$1" in
        {'|'.join(shlex.quote(p) for p in sorted(tree) if p)}) return 0;;
    esac
    return 1
}}
complete -o default -F _sluice_complete sluice
"""
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + bash
    return bash
