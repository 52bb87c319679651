"""What a named command in the config (`system.commands`) may be, checked when the config loads;
`trust/system_commands.py` runs them.

Each has the name a person says, an argument vector (never a shell, never a string to split), at
most one argument slot whose values are checked against a list or a pattern, whether it changes
the system (then the assistant asks for a spoken yes first), and a time limit:

    system:
      commands:
        restart the music server:
          run: [systemctl, --user, restart, mpd]
          changes: true
        check the internet:
          run: [ping, -c, "1", -W, "2", "{host}"]
          changes: false
          arg: {name: host, choices: [router, nas]}

A command with a slot never runs a program that takes code (a shell, an interpreter, a tool with a
command hook such as git -c, tar --to-command, rsync -e, vim -c, find -exec, a sed script), nor one
through a wrapper (env, nice, timeout, sudo, flock, chroot, unshare, systemd-run, strace …) that runs
such a program: a spoken value would be code. A program is judged by every name it goes by (as given,
the file PATH finds, the real file behind links, a known shell that file is a link to or a copy of);
a wrapper option this check does not know, or a slot given to a wrapper itself, is refused rather
than guessed at. Such an entry is refused when the config loads.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from dataclasses import dataclass

from assistant.core.errors import ConfigError, SkillError, shown

_NAME = re.compile(r"^[a-z][a-z0-9' -]{1,59}$")
_SLOT = re.compile(r"^\{([a-z_]{1,20})\}$")

_SHELLS = re.compile(
    r"^(sh|bash|dash|zsh|ksh|ksh93|mksh|ash|yash|posh|csh|tcsh|fish|rbash|busybox|toybox|"
    r"python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|irb|node|nodejs|deno|bun|php[0-9.]*|"
    r"lua[0-9.]*|luajit|tclsh[0-9.]*|wish[0-9.]*|expect|awk|gawk|mawk|nawk|R|Rscript|julia|"
    r"osascript|guile[0-9.]*|racket|sbcl|clisp|ocaml|ghci|runghc|erl|escript|elixir|iex|jshell|"
    r"groovy|scala|pwsh|powershell|dc)$"
)
"""Shells and interpreters: their arguments are code."""
_TAKES_CODE = re.compile(
    r"^(vi|vim|nvim|view|ex|rvim|rview|gvim|vim\.\w+|ed|red|emacs|emacsclient|less|more|most|man|"
    r"pager|editor|sensible-editor|sensible-pager|make|gmake|bmake|m4|git|hg|svn|tar|bsdtar|gtar|"
    r"zip|rsync|scp|ssh|sftp|gdb|lldb|valgrind|perf|sqlite3|mysql|mariadb|psql|mongo|mongosh|"
    r"docker|podman|nerdctl|kubectl|lxc|machinectl|systemd-nspawn|nmap|crontab|at|batch|xargs|"
    r"parallel|watch|script|su|sg|runuser|tmux|screen|firejail|pip[0-9.]*|pipx|uv|uvx|npm|npx|"
    r"pnpm|yarn|gem|cargo|go|rename|prename|file-rename|perl-rename)$"
)
"""Programs with a way to run a command or code named in their arguments (an editor's `:!`, git -c,
tar --to-command, rsync -e, ssh, make --eval, su -c, firejail through a shell …): refused whenever a
slot reaches them, since the slot cannot be told apart from the hook."""
_MULTI_CALL = {"busybox", "toybox"}
"""One file, many programs, chosen by the name it is started under: the name is what runs."""
_FIND_RUNS = {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"}


@dataclass(frozen=True)
class _Wrapper:
    options: dict[str, int]
    """Each option it knows, and how many values follow it (0 for a flag)."""
    positionals: int = 0
    """Plain arguments before the command: timeout's duration, chroot's new root, flock's lock file."""
    shell: frozenset[str] = frozenset()
    """Options that make the wrapper itself run a shell with the arguments (env -S, sudo -s, flock -c)."""
    assigns: bool = False
    """NAME=value may come before the command (env, sudo)."""


def _wrapper(
    flags: str = "", values: str = "", pairs: str = "", positionals: int = 0, shell: str = "", assigns: bool = False
) -> _Wrapper:
    options = {**{o: 0 for o in flags.split()}, **{o: 1 for o in values.split()}, **{o: 2 for o in pairs.split()}}
    return _Wrapper(options, positionals, frozenset(shell.split()), assigns)


_WRAPPERS: dict[str, _Wrapper] = {
    "env": _wrapper(
        "- -i --ignore-environment -0 --null -v --debug",
        "-u --unset -C --chdir -a --argv0",
        shell="-S --split-string",
        assigns=True,
    ),
    "nice": _wrapper(values="-n --adjustment"),
    "ionice": _wrapper("-t --ignore", "-c --class -n --classdata"),
    "chrt": _wrapper(
        "-a --all-tasks -m --max -v --verbose -R --reset-on-fork -b --batch -d --deadline -f --fifo "
        "-i --idle -o --other -r --rr -e --ext",
        "-T --sched-runtime -P --sched-period -D --sched-deadline",
        positionals=1,
    ),
    "taskset": _wrapper("-a --all-tasks -c --cpu-list", positionals=1),
    "timeout": _wrapper("--preserve-status --foreground -v --verbose", "-s --signal -k --kill-after", positionals=1),
    "stdbuf": _wrapper(values="-i --input -o --output -e --error"),
    "setsid": _wrapper("-c --ctty -f --fork -w --wait"),
    "nohup": _wrapper(),
    "sudo": _wrapper(
        "-E --preserve-env -H --set-home -n --non-interactive -b --background -k --reset-timestamp "
        "-P --preserve-groups -A --askpass -B --bell -S --stdin",
        "-u --user -g --group -h --host -p --prompt -C --close-from -D --chdir -R --chroot -r --role "
        "-t --type -T --command-timeout -U --other-user",
        shell="-s --shell -i --login -e --edit",
        assigns=True,
    ),
    "doas": _wrapper("-n -L", "-u", shell="-s"),
    "pkexec": _wrapper("--disable-internal-agent --keep-cwd", "--user"),
    "setpriv": _wrapper(
        "--clear-groups --keep-groups --init-groups --no-new-privs --reset-env",
        "--reuid --regid --ruid --euid --rgid --egid --groups --inh-caps --ambient-caps --bounding-set "
        "--securebits --pdeathsig --selinux-label --apparmor-profile --landlock-access --landlock-rule",
    ),
    "flock": _wrapper(
        "-s --shared -x -e --exclusive -u --unlock -n --nb --nonblock -o --close -F --no-fork --verbose",
        "-w --wait --timeout -E --conflict-exit-code",
        positionals=1,
        shell="-c --command",
    ),
    "chroot": _wrapper("--skip-chdir", "--userspec --groups", positionals=1),
    "unshare": _wrapper(
        "-m --mount -u --uts -i --ipc -n --net -p --pid -U --user -C --cgroup -T --time -f --fork "
        "-r --map-root-user -c --map-current-user --kill-child --mount-proc --keep-caps --map-auto",
        "--propagation --setgroups -S --setuid -G --setgid --map-user --map-group --map-users "
        "--map-groups -R --root -w --wd -l --load-interp --monotonic --boottime",
    ),
    "nsenter": _wrapper(
        "-m --mount -u --uts -i --ipc -n --net -p --pid -U --user -C --cgroup -T --time -a --all "
        "-F --no-fork -Z --follow-context --preserve-credentials",
        "-t --target -S --setuid -G --setgid -r --root -w --wd",
    ),
    "time": _wrapper("-p --portability -a --append -v --verbose -q --quiet", "-f --format -o --output"),
    "systemd-run": _wrapper(
        "--user --system --scope -t --pty -P --pipe -G --collect -q --quiet --wait -d --same-dir "
        "--no-block --no-ask-password -r --remain-after-exit --send-sighup",
        "-u --unit -p --property --description --slice -E --setenv --uid --gid --nice "
        "--working-directory -M --machine -H --host --service-type --on-active --on-boot "
        "--on-startup --on-unit-active --on-unit-inactive --on-calendar",
        shell="-S --shell",
    ),
    "strace": _wrapper(
        "-f -c -C -q -t -T -v -x -y -z -Z -w -r -k -i -n -F -D -Y --follow-forks --summary-only",
        "-o --output -e -s --string-limit -a --columns -u --user -E --env -I -X -P --trace-path "
        "-b --detach-on -O -S --summary-sort-by -U --trace --signal --status",
    ),
    "ltrace": _wrapper(
        "-b --no-signals -c -C --demangle -f -i -L -r -S -t -T",
        "-a --align -A -D --debug -e -F --config -l --library -n --indent -o --output -s -u -w --where -x",
    ),
    "numactl": _wrapper(
        "-a --all -l --localalloc -b --balancing",
        "-i --interleave -m --membind -N --cpunodebind -C --physcpubind -p --preferred -P --preferred-many",
    ),
    "cgexec": _wrapper("--sticky", "-g"),
    "bwrap": _wrapper(
        "--unshare-all --share-net --unshare-user --unshare-user-try --unshare-ipc --unshare-pid "
        "--unshare-net --unshare-uts --unshare-cgroup --unshare-cgroup-try --die-with-parent --as-pid-1 "
        "--new-session --clearenv --disable-userns --assert-userns-disabled",
        "--args --argv0 --userns --userns2 --pidns --uid --gid --hostname --chdir --unsetenv --lock-file "
        "--sync-fd --remount-ro --exec-label --file-label --proc --dev --tmpfs --mqueue --dir --seccomp "
        "--add-seccomp-fd --block-fd --userns-block-fd --info-fd --json-status-fd --cap-add --cap-drop "
        "--perms --size",
        "--setenv --bind --bind-try --dev-bind --dev-bind-try --ro-bind --ro-bind-try "
        "--bind-fd --ro-bind-fd --file --bind-data --ro-bind-data --symlink --chmod",
    ),
    "systemd-inhibit": _wrapper("--no-pager --no-legend --no-ask-password", "--what --who --why --mode"),
    "prlimit": _wrapper(
        "--as --core --cpu --data --fsize --locks --memlock --msgqueue --nice --nofile --nproc --rss "
        "--rtprio --rttime --sigpending --stack"
    ),
    "fakeroot": _wrapper("-u --unknown-is-real", "-l --lib --faked -s -i -b"),
    "torsocks": _wrapper("-q --quiet -d --debug -i --isolate", "-u --user -p --pass -a --address -P --port"),
    "proxychains": _wrapper("-q", "-f"),
    "proxychains4": _wrapper("-q", "-f"),
    "dbus-run-session": _wrapper("--config-file --dbus-daemon"),
    "unbuffer": _wrapper("-p"),
    "eatmydata": _wrapper(),
    "catchsegv": _wrapper(),
    "nocache": _wrapper(),
    "gosu": _wrapper(positionals=1),
    "su-exec": _wrapper(positionals=1),
}
"""Programs that run the command after their own options. An option not listed is refused: it could
take a value, and then the command would start somewhere else than where it seems to."""


@dataclass(frozen=True)
class CommandArg:
    name: str
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int = 64

    def check(self, value: str) -> str:
        value = value.strip()
        if self.choices:
            lowered = {c.lower(): c for c in self.choices}
            if value.lower() not in lowered:
                raise SkillError(f"{value!r} is not one of {', '.join(self.choices)}", code="bad_argument")
            return lowered[value.lower()]
        if len(value) > self.max_length or self.pattern is None or not re.fullmatch(self.pattern, value):
            raise SkillError(f"{value!r} is not an allowed {self.name}", code="bad_argument")
        if value.startswith("-"):  # never an option smuggled in as a value
            raise SkillError(f"{value!r} is not an allowed {self.name}", code="bad_argument")
        return value


@dataclass(frozen=True)
class NamedCommand:
    name: str
    run: tuple[str, ...]
    changes: bool = True
    timeout_s: float = 30.0
    arg: CommandArg | None = None

    def argv(self, value: str | None) -> list[str]:
        """The exact argument vector: the slot is one whole element, replaced by a checked value."""
        if self.arg is None:
            if value:
                raise SkillError(f"'{self.name}' takes nothing more", code="bad_argument")
            return list(self.run)
        if not value:
            raise SkillError(f"'{self.name}' needs a {self.arg.name}", code="missing_argument")
        checked = self.arg.check(value)
        return [checked if _SLOT.match(part) else part for part in self.run]


def parse_commands(data: object, where: str = "system.commands") -> dict[str, NamedCommand]:
    """Validate the config's commands; a bad one is a ConfigError naming it and saying what is wrong."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of spoken names to commands")
    out: dict[str, NamedCommand] = {}
    for raw_name, spec in data.items():
        name = str(raw_name).strip().lower()
        here = f"{where}.{shown(raw_name)}"
        if not _NAME.match(name):
            raise ConfigError(f"{here}: the name is what you say: lower-case words, 2 to 60 letters")
        if not isinstance(spec, dict):
            raise ConfigError(f"{here} must be a mapping with run: [program, arguments …]")
        unknown = sorted(set(spec) - {"run", "changes", "timeout_s", "arg"})
        if unknown:
            raise ConfigError(f"unknown setting {here}.{unknown[0]} (known: arg, changes, run, timeout_s)")
        run = spec.get("run")
        if (
            not isinstance(run, list)
            or not run
            or not all(isinstance(p, (str, int, float)) and not isinstance(p, bool) for p in run)
        ):
            raise ConfigError(
                f"{here}.run must be a list: the program, then each argument (never one string for a shell)"
            )
        run = [str(p) for p in run]
        if _SLOT.match(run[0]):
            raise ConfigError(f"{here}.run: the program itself cannot be an argument")
        changes = spec.get("changes", True)
        if not isinstance(changes, bool):
            raise ConfigError(f"{here}.changes must be true or false")
        timeout = spec.get("timeout_s", 30)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
            raise ConfigError(f"{here}.timeout_s must be a number of seconds, at most 600")
        slots = [m.group(1) for p in run if (m := _SLOT.match(p))]
        if any("{" in p or "}" in p for p in run if not _SLOT.match(p)):
            raise ConfigError(f'{here}.run: an argument slot must be a whole element, like "{{host}}"')
        arg = _parse_arg(spec.get("arg"), here)
        if len(set(slots)) > 1 or (slots and (arg is None or arg.name != slots[0])) or (arg is not None and not slots):
            raise ConfigError(f"{here}: use at most one slot, and declare it under arg: (name, and choices or pattern)")
        if slots:
            _refuse_code_runners(run, here)
        out[name] = NamedCommand(name, tuple(run), changes, float(timeout), arg)
    return out


def _refuse_code_runners(run: list[str], here: str) -> None:
    """A ConfigError when the program a command with a slot runs (after its wrappers) takes code."""
    why = _runs_code(run)
    if why is not None:
        raise ConfigError(
            f"{here}.run: {why}, and the command has an argument slot: a spoken value could run "
            "anything. Name a program that does one thing, or drop the slot"
        )


def _runs_code(run: list[str], path: str | None = None) -> str | None:
    """Why `run` could run code given as an argument, or None. Each program is known by the name it is
    given, the file it resolves to and any known shell or interpreter that file is (a renamed copy or
    link); wrappers are unwrapped to what they run; the slot may not be a wrapper's own argument."""
    path = os.environ.get("PATH", "/usr/bin:/bin") if path is None else path
    rest = run
    for _ in range(32):
        if not rest:
            return None
        if _SLOT.match(rest[0]):
            return "the program it runs is the argument slot itself"
        names = _identities(rest[0], path)
        runner = next((n for n in names if _SHELLS.match(n) or _TAKES_CODE.match(n)), None)
        if runner is not None:
            called = repr(runner) if runner == names[0] else f"{rest[0]!r} is {runner!r} under another name, and it"
            return f"{called} runs code or commands given as its arguments (a shell, an interpreter, a tool with command hooks)"
        wrapper = next((n for n in names if n in _WRAPPERS), None)
        if wrapper is None:
            return _runs_code_in_place(names, rest, path)
        unwrapped = _unwrap(wrapper, rest[1:])
        if isinstance(unwrapped, str):
            return unwrapped
        rest = unwrapped
    return "it wraps too many programs to follow"


def _runs_code_in_place(names: list[str], run: list[str], path: str) -> str | None:
    """The last program: find and sed run commands with some arguments; a shell named among the arguments
    with an option after it is run by a wrapper this check does not know."""
    if "find" in names and _FIND_RUNS & set(run[1:]):
        return f"'find' with {sorted(_FIND_RUNS & set(run[1:]))[0]} runs commands or changes files"
    if ("sed" in names or "gsed" in names) and _sed_script_is_slot(run[1:]):
        return "the argument slot is sed's script, and a sed script can run commands (e) and write files (w)"
    for i, part in enumerate(run[1:], 1):
        known = [os.path.basename(part)] + (_identities(part, path) if "/" in part else [])
        named = next((n for n in known if _SHELLS.match(n) or _TAKES_CODE.match(n)), None)
        if named and ("/" in part or (i + 1 < len(run) and run[i + 1].startswith("-"))):
            return f"{run[0]!r} is given the program {named!r} with options, and could run it"
    return None


def _identities(program: str, path: str) -> list[str]:
    """The names a program goes by: as given, as found on PATH, the real file after links, and the
    known shell or interpreter whose file it is (the same file, or a copy of it)."""
    given = os.path.basename(program)
    located = shutil.which(program, path=path) or (program if os.path.isfile(program) else None)
    if located is None:
        return [given]
    real = os.path.realpath(located)
    names = [given, os.path.basename(located), os.path.basename(real)]
    same = _same_file_as_known(real, path)
    if same is not None:
        names.append(same)
    if _MULTI_CALL & set(names[2:]) and names[1] not in _MULTI_CALL:
        names = [given, names[1]]  # busybox runs the program named by the link, not "busybox"
    return list(dict.fromkeys(names))


def _same_file_as_known(real: str, path: str) -> str | None:
    """Which known shell, interpreter or wrapper on PATH `real` is: the same file, a hard link or a copy."""
    try:
        stat = os.stat(real)
    except OSError:
        return None
    by_path, by_inode, by_size = _known_programs(path)
    if real in by_path:
        return by_path[real]
    if (stat.st_dev, stat.st_ino) in by_inode:
        return by_inode[(stat.st_dev, stat.st_ino)]
    for other, name in by_size.get(stat.st_size, []):
        if _digest(other) == _digest(real):
            return name
    return None


@functools.lru_cache(maxsize=4)
def _known_programs(path: str) -> tuple[dict[str, str], dict[tuple[int, int], str], dict[int, list[tuple[str, str]]]]:
    """The shells, interpreters, hook-running tools and wrappers installed on PATH, by real path, by
    inode and by size."""
    by_path: dict[str, str] = {}
    by_inode: dict[tuple[int, int], str] = {}
    by_size: dict[int, list[tuple[str, str]]] = {}
    for folder in path.split(os.pathsep):
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in entries:
            if not (_SHELLS.match(entry) or _TAKES_CODE.match(entry) or entry in _WRAPPERS):
                continue
            real = os.path.realpath(os.path.join(folder or ".", entry))
            try:
                stat = os.stat(real)
            except OSError:
                continue
            if real in by_path or not os.path.isfile(real):
                continue
            name = os.path.basename(real) if _SHELLS.match(os.path.basename(real)) else entry
            by_path[real] = name
            by_inode[(stat.st_dev, stat.st_ino)] = name
            by_size.setdefault(stat.st_size, []).append((real, name))
    return by_path, by_inode, by_size


def _digest(file: str) -> str | None:
    try:
        with open(file, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _unwrap(wrapper: str, args: list[str]) -> list[str] | str:
    """What a wrapper runs (the rest of the vector from its program on), or why it cannot be told."""
    spec = _WRAPPERS[wrapper]
    i = 0
    while i < len(args):
        part = args[i]
        name = part.split("=", 1)[0]
        if part == "--":
            i += 1
            break
        if name in spec.shell:
            return f"{wrapper!r} with {name} runs a shell"
        if name in spec.options:
            i += 1 + (0 if "=" in part else spec.options[name])
        elif spec.assigns and not part.startswith("-") and "=" in part:
            i += 1  # NAME=value
        elif wrapper == "nice" and part[:1] == "-" and part[1:].isdigit():
            i += 1
        elif part.startswith("-") and not part.startswith("--") and len(part) > 1:
            taken = _short_options(wrapper, spec, part)
            if isinstance(taken, str):
                return taken
            i += 1 + taken
        elif part.startswith("-") and len(part) > 1:
            return f"{wrapper!r} with the option {part!r} cannot be told apart from what it runs"
        else:
            break
    i += spec.positionals
    own = args[:i]
    if any(_SLOT.match(part) for part in own):
        return (
            f"the argument slot is given to {wrapper!r} itself (an option or its value), where it could change "
            "what runs"
        )
    if wrapper in ("strace", "ltrace") and any(
        p.removeprefix("-o").removeprefix("--output=").startswith(("|", "!")) for p in own
    ):
        return f"{wrapper!r} pipes its trace, which holds the spoken value, into a shell command (-o |…)"
    if i < len(args) and args[i].split("=", 1)[0] in spec.shell:
        return f"{wrapper!r} with {args[i]} runs a shell"
    return args[i:]


def _short_options(wrapper: str, spec: _Wrapper, part: str) -> int | str:
    """How many more elements a cluster of short options (-fw, -oL, -n10) takes, or why it is refused."""
    for j, letter in enumerate(part[1:], 1):
        option = f"-{letter}"
        if option in spec.shell:
            return f"{wrapper!r} with {option} runs a shell"
        if option not in spec.options:
            return f"{wrapper!r} with the option {part!r} cannot be told apart from what it runs"
        if spec.options[option]:
            joined = j < len(part) - 1  # the value follows in the same element
            return spec.options[option] - (1 if joined else 0)
    return 0


def _sed_script_is_slot(args: list[str]) -> bool:
    """Whether sed takes its script from the slot: after -e/-f, or as the first plain argument when there is none."""
    given, first, i = False, None, 0
    while i < len(args):
        part = args[i]
        if part == "--":
            first = first if first is not None else (args[i + 1] if i + 1 < len(args) else None)
            break
        if part.split("=", 1)[0] in ("--expression", "--file"):
            given = True
            if "=" not in part:
                if i + 1 < len(args) and _SLOT.match(args[i + 1]):
                    return True
                i += 1
        elif part.startswith("--") and part.split("=", 1)[0] == "--line-length" and "=" not in part:
            i += 1
        elif part.startswith("-") and not part.startswith("--") and len(part) > 1:
            for j, letter in enumerate(part[1:], 1):
                if letter in "efl":
                    given = given or letter != "l"
                    if j == len(part) - 1:
                        if letter != "l" and i + 1 < len(args) and _SLOT.match(args[i + 1]):
                            return True
                        i += 1
                    break
                if letter == "i":
                    break  # -i takes a joined suffix
        elif first is None:
            first = part
        i += 1
    return not given and first is not None and bool(_SLOT.match(first))


def _parse_arg(data: object, here: str) -> CommandArg | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ConfigError(f"{here}.arg must be a mapping with a name and choices or a pattern")
    choices = data.get("choices") or []
    pattern = data.get("pattern")
    if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
        raise ConfigError(f"{here}.arg.choices must be a list of words")
    if bool(choices) == (pattern is not None):
        raise ConfigError(f"{here}.arg needs either choices or a pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as e:
            raise ConfigError(f"{here}.arg.pattern is not a regular expression: {e}") from None
    max_length = data.get("max_length", 64)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= 256:
        raise ConfigError(f"{here}.arg.max_length must be a whole number from 1 to 256")
    return CommandArg(data["name"], tuple(choices), pattern, max_length)
