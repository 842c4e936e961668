"""A corpus of broken and hostile packs: each one must be refused with one clear message.

Every case builds its pack inside the directory it is given (so that an API pack root can hold
it), together with anything "outside the pack" that the pack points at, and names the message
the refusal must carry: the whole message where it is stable, else a part that names the
problem (the field path, the file, the value).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.packs import manifest, write_pack

Builder = Callable[[Path], Path]
REF = "hostile"
SUITE = "testing.test_suites[0]"
HEAD = f"ref: {REF}\nversion: 1.0.0\nlabel: Hostile\ndescription: refused\n"
# A manifest over the 1 MiB limit: the size in the message is exact.
BIG_MANIFEST = HEAD + "#" * (2 * 1024 * 1024) + "\n"


@dataclass(frozen=True)
class HostilePack:
    id: str
    build: Builder
    message: str
    exact: bool = True  # else ``message`` is a part of the refusal that names the problem

    def matches(self, error: str) -> bool:
        return error == self.message if self.exact else self.message in error


def _pack(directory: Path) -> Path:
    return directory / "pack"


def text(content: str | bytes) -> Builder:
    """pack.yaml with exactly this content, next to a passing test module."""
    def build(directory: Path) -> Path:
        pack = write_pack(_pack(directory), "")
        path = pack / "pack.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return pack
    return build


def fields(**changes: object) -> Builder:
    """The reference manifest with top-level fields changed (``None`` removes one)."""
    data = manifest(REF)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return lambda directory: write_pack(_pack(directory), data)


def suite(**changes: object) -> Builder:
    """The reference manifest with its one suite changed (``None`` removes a field)."""
    data = manifest(REF)
    entry = data["testing"]["test_suites"][0]
    for name, value in changes.items():
        if value is None:
            entry.pop(name, None)
        else:
            entry[name] = value
    return lambda directory: write_pack(_pack(directory), data)


def testing(section: object) -> Builder:
    return lambda directory: write_pack(_pack(directory), manifest(REF, testing=section))


def runners(entries: object, **section: object) -> Builder:
    return testing({"enabled": True, "runners": entries, **section})


def with_files(builder: Builder, setup: Callable[[Path, Path], object]) -> Builder:
    """``builder``, then ``setup(pack, directory)`` for links, FIFOs and outside targets."""
    def build(directory: Path) -> Path:
        pack = builder(directory)
        setup(pack, directory)
        return pack
    return build


def component(name: str, content: str, kind: str = "actions") -> Builder:
    """A valid pack with one component file ``kind/name``."""
    def setup(pack: Path, _: Path) -> None:
        (pack / kind).mkdir(exist_ok=True)
        (pack / kind / name).write_text(content, encoding="utf-8")
    return with_files(fields(), setup)


def _outside_file(directory: Path, name: str = "secret.txt") -> Path:
    """A file next to the pack (inside the API's pack root, outside the pack)."""
    (directory / "outside").mkdir(exist_ok=True)
    target = directory / "outside" / name
    target.write_text("not the pack's\n")
    return target


def _outside_dir(directory: Path) -> Path:
    _outside_file(directory, "test_steal.py")
    return directory / "outside"


def _doubling_alias_bomb() -> str:
    # 96 aliases (under the count limit) that double at each level: 2**48 values expanded.
    lines = [HEAD.rstrip("\n"), "meta:", "  a0: &a0 [x, x]"]
    lines += [f"  a{n}: &a{n} [*a{n - 1}, *a{n - 1}]" for n in range(1, 49)]
    return "\n".join(lines) + "\n"


def _counted_alias_bomb() -> str:
    lines = [HEAD.rstrip("\n"), "meta:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 12)]
    return "\n".join(lines) + "\n"


def _deep_folders(pack: Path, _: Path) -> None:
    (pack / Path(*["d"] * 101)).mkdir(parents=True)


def _link_loops(pack: Path, _: Path) -> None:
    # Six links to "." make pathlib's glob of a 7-part pattern walk 6**7 paths.
    for n in range(6):
        (pack / "tests" / f"loop{n}").symlink_to(".")


def _many_suites() -> Builder:
    data = manifest(REF)
    data["testing"]["test_suites"] = [
        {"name": f"s{n}", "runner": "unittest", "working_dir": "tests"} for n in range(101)]
    return lambda directory: write_pack(_pack(directory), data)


def _both_dialects() -> Builder:
    data = manifest(REF)
    data["testing"]["runners"] = {"sh": {"type": "script", "entry_point": "tests/run.sh"}}
    return lambda directory: write_pack(_pack(directory), data)


def _duplicate_suites() -> Builder:
    data = manifest(REF)
    data["testing"]["test_suites"].append(dict(data["testing"]["test_suites"][0]))
    return lambda directory: write_pack(_pack(directory), data)


def _fifo_component(pack: Path, _: Path) -> None:
    (pack / "actions").mkdir()
    os.mkfifo(pack / "actions" / "pipe.yaml")


def _component_linked_outside(pack: Path, directory: Path) -> None:
    (pack / "actions").mkdir()
    (pack / "actions" / "x.yaml").symlink_to(_outside_file(directory, "x.yaml"))


def _many_components(pack: Path, _: Path) -> None:
    (pack / "actions").mkdir()
    for n in range(1001):
        (pack / "actions" / f"a{n}.yaml").write_text("label: x\n")


def _bulky_components(pack: Path, _: Path) -> None:
    # Each file is under the 1 MiB limit for one file; together they are over 16 MiB.
    (pack / "rules").mkdir()
    for n in range(17):
        (pack / "rules" / f"r{n}.yaml").write_text("#" * 1_000_000 + "\n")


def _pack_yaml_linked_outside(pack: Path, directory: Path) -> None:
    target = _outside_file(directory, "pack.yaml")
    target.write_text(yaml.safe_dump(manifest(REF)))
    (pack / "pack.yaml").unlink()
    (pack / "pack.yaml").symlink_to(target)


def _replace_pack_yaml(make: Callable[[Path], object]) -> Callable[[Path, Path], None]:
    def setup(pack: Path, _: Path) -> None:
        (pack / "pack.yaml").unlink()
        make(pack / "pack.yaml")
    return setup


def _invalid(field: str | None, problem: str, source: str = "pack.yaml") -> str:
    return f"Invalid {source}: {field}: {problem}" if field else f"Invalid {source}: {problem}"


def _bad_path(field: str, value: str) -> str:
    return _invalid(field, f"{value!r} must be a relative path inside the pack")


KNOWN_RUNNERS = "pytest, python_unittest, script, shell, unittest"

CORPUS: list[HostilePack] = [
    # YAML that does not parse, or parses into something that is not a manifest.
    HostilePack("yaml-syntax-error", text(f"ref: {REF}\nversion: 1.0.0: x\n"), _invalid(
        None, "not valid YAML at line 2, column 15: mapping values are not allowed here")),
    HostilePack("yaml-unclosed-flow", text(f"ref: {REF}\ntags: [a, b\n"), _invalid(
        None, "not valid YAML at line 3, column 1: expected ',' or ']', but got '<stream end>'")),
    HostilePack("yaml-tab-indent", text(f"ref: {REF}\n\tversion: 1.0.0\n"), _invalid(
        None, "not valid YAML at line 2, column 1: found character '\\t' that cannot start "
              "any token")),
    HostilePack("yaml-two-documents", text(HEAD + "---\nref: other\n"), _invalid(
        None, "not valid YAML at line 5, column 1: but found another document")),
    HostilePack("yaml-python-tag", text("ref: !!python/object/apply:os.system ['touch pwned']\n"),
                _invalid(None, "not valid YAML at line 1, column 6: could not determine a "
                               "constructor for the tag "
                               "'tag:yaml.org,2002:python/object/apply:os.system'")),
    HostilePack("yaml-5000-digit-int", text(HEAD + "config: {n: " + "7" * 5000 + "}\n"),
                _invalid(None, "not valid YAML at line 5, column 13: cannot read this int "
                               "value: more than 4300 digits")),
    HostilePack("yaml-impossible-date", text(HEAD + "meta: {released: 2024-13-45}\n"),
                _invalid(None, "not valid YAML at line 5, column 18: cannot read this timestamp "
                               "value: month must be in 1..12")),
    HostilePack("manifest-a-list", text("- ref\n- version\n"),
                _invalid(None, "the manifest must be a mapping of fields, got a list")),
    HostilePack("manifest-a-scalar", text("just some words\n"),
                _invalid(None, "the manifest must be a mapping of fields, got a string")),
    HostilePack("manifest-a-number", text("42\n"),
                _invalid(None, "the manifest must be a mapping of fields, got a number")),
    HostilePack("manifest-empty", text(""), _invalid(
        None, "the manifest must be a mapping of fields, got nothing (empty file)")),
    # Documents built to exhaust the loader.
    HostilePack("alias-bomb-many-aliases", text(_counted_alias_bomb()),
                _invalid(None, "more than 100 YAML aliases (refusing an alias bomb)")),
    HostilePack("alias-bomb-doubling", text(_doubling_alias_bomb()), _invalid(
        None, "YAML aliases expand to more than 100000 values (refusing an alias bomb)")),
    HostilePack("alias-recursive", text(HEAD + "meta: &loop {again: *loop}\n"), _invalid(
        None, "a YAML alias refers to a value that contains it (a recursive structure)")),
    HostilePack("deep-nesting", text(HEAD + "meta: " + "[" * 200 + "]" * 200 + "\n"),
                _invalid(None, "nesting deeper than 64 levels")),
    HostilePack("multi-megabyte-manifest", text(BIG_MANIFEST), _invalid(
        None, f"{len(BIG_MANIFEST)} bytes, over the limit of 1048576")),
    HostilePack("latin-1-bytes", text(HEAD.encode() + b"author: Ren\xe9\n"),
                _invalid(None, f"not valid UTF-8 (byte offset {len(HEAD) + 11})")),
    HostilePack("utf-16-file", text(HEAD.encode("utf-16")),
                _invalid(None, "not valid UTF-8 (byte offset 0)")),
    # Values no store can hold.
    HostilePack("nul-in-label", fields(label="bad\0label"),
                _invalid("label", "contains a NUL character, which cannot be stored")),
    HostilePack("nul-in-a-key", fields(meta={"owner\0": "x"}),
                _invalid("meta", "a key contains a NUL character, which cannot be stored")),
    HostilePack("unpaired-surrogate", text(HEAD.replace("refused", '"bad \\ud800 text"')),
                _invalid("description", "contains an unpaired surrogate, which is not valid "
                                        "Unicode")),
    HostilePack("nan-in-config", text(HEAD + "config: {ratio: .nan}\n"),
                _invalid("config.ratio", "must be a finite number, got nan")),
    # pack.yaml that is not a readable file inside the pack.
    HostilePack("pack-yaml-a-directory",
                with_files(fields(), _replace_pack_yaml(lambda p: p.mkdir())),
                _invalid(None, "not a regular file")),
    HostilePack("pack-yaml-a-fifo", with_files(fields(), _replace_pack_yaml(os.mkfifo)),
                _invalid(None, "not a regular file")),
    HostilePack("pack-yaml-linked-outside", with_files(fields(), _pack_yaml_linked_outside),
                _invalid(None, "a link to a file outside the pack")),
    HostilePack("pack-yaml-link-loop",
                with_files(fields(), _replace_pack_yaml(lambda p: p.symlink_to(p.name))),
                _invalid(None, "cannot be read: a symbolic link loop")),
    HostilePack("folders-101-deep", with_files(fields(), _deep_folders), _invalid(
        None, "folders are nested more than 100 levels deep", "pack directory")),
    # Required fields and wrong types everywhere.
    HostilePack("missing-ref", fields(ref=None), _invalid("ref", "required field is missing")),
    HostilePack("missing-label", fields(label=None),
                _invalid("label", "required field is missing")),
    HostilePack("ref-an-integer", fields(ref=42), _invalid("ref", "expected str, got int")),
    HostilePack("ref-invalid", fields(ref="My Pack"), _invalid(
        "ref", "'My Pack' is not a valid pack ref (lowercase letter first, then at least one "
               "of a-z, 0-9, '_' or '-')")),
    HostilePack("ref-100-kb", fields(ref="X" * 100_000), _invalid(
        "ref", f"'{'X' * 60}…' is not a valid pack ref (lowercase letter first, then at least "
               "one of a-z, 0-9, '_' or '-')")),
    HostilePack("version-a-float", text(HEAD.replace("1.0.0", "1.0")),
                _invalid("version", "expected str, got float")),
    HostilePack("version-not-semver", fields(version="v1.0.0"), _invalid(
        "version", "'v1.0.0' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)")),
    HostilePack("label-a-mapping", fields(label={"en": "Hostile"}),
                _invalid("label", "expected str, got object")),
    HostilePack("tags-a-string", fields(tags="a,b"), _invalid("tags", "expected array, got str")),
    HostilePack("legacy-alias-conflict", fields(name="Other Name"), _invalid(
        "label", "'label' and its legacy alias 'name' have different values; remove one or "
                 "make them equal")),
    HostilePack("testing-a-string", testing("yes please"),
                _invalid("testing", "expected object or null, got str")),
    HostilePack("test-suites-a-mapping", testing({"test_suites": {"name": "unit"}}),
                _invalid("testing.test_suites", "expected array, got object")),
    HostilePack("suite-a-string", testing({"test_suites": ["unit"]}),
                _invalid(SUITE, "expected object, got str")),
    HostilePack("enabled-yes-string", testing({"enabled": "yes", "test_suites": []}),
                _invalid("testing.enabled", "expected bool, got str")),
    HostilePack("test-files-a-string", suite(test_files="test_*.py"),
                _invalid(f"{SUITE}.test_files", "expected array, got str")),
    HostilePack("test-files-integers", suite(test_files=[1, 2]),
                _invalid(f"{SUITE}.test_files[0]", "expected str, got int")),
    HostilePack("working-dir-a-list", suite(working_dir=["tests"]),
                _invalid(f"{SUITE}.working_dir", "expected str, got array")),
    HostilePack("suite-unknown-field", suite(timeout=60),
                _invalid(f"{SUITE}.timeout", "unknown field")),
    HostilePack("suite-name-with-newline", suite(name="unit\ntests"),
                _invalid(f"{SUITE}.name", "'unit\\ntests' contains a control character")),
    # Timeouts.
    HostilePack("timeout-negative", suite(timeout_seconds=-5), _invalid(
        f"{SUITE}.timeout_seconds", "must be between 1 and 3600 seconds, got -5")),
    HostilePack("timeout-zero", suite(timeout_seconds=0), _invalid(
        f"{SUITE}.timeout_seconds", "must be between 1 and 3600 seconds, got 0")),
    HostilePack("timeout-huge", suite(timeout_seconds=10**20), _invalid(
        f"{SUITE}.timeout_seconds", f"must be between 1 and 3600 seconds, got {10**20}")),
    HostilePack("timeout-a-string", suite(timeout_seconds="60"),
                _invalid(f"{SUITE}.timeout_seconds", "expected int, got str")),
    HostilePack("timeout-a-float", suite(timeout_seconds=1.5),
                _invalid(f"{SUITE}.timeout_seconds", "expected int, got float")),
    HostilePack("upstream-timeout-zero",
                runners({"sh": {"type": "script", "entry_point": "tests/run.sh", "timeout": 0}}),
                _invalid("testing.runners.sh.timeout",
                         "must be between 1 and 3600 seconds, got 0")),
    # Runners and suites.
    HostilePack("unknown-runner", suite(runner="nose"), _invalid(
        f"{SUITE}.runner", f"unknown runner 'nose' (known: {KNOWN_RUNNERS})")),
    HostilePack("upstream-unknown-type", runners({"js": {"type": "jest", "entry_point": "t"}}),
                _invalid("testing.runners.js.type",
                         f"unknown runner type 'jest' (known: {KNOWN_RUNNERS})")),
    HostilePack("upstream-no-entry-point", runners({"sh": {"type": "script"}}),
                _invalid("testing.runners.sh.entry_point", "required field is missing")),
    HostilePack("upstream-runners-a-list", runners(["script"]),
                _invalid("testing.runners", "expected object, got a list")),
    HostilePack("both-dialects", _both_dialects(),
                _invalid("testing", "use either test_suites or runners, not both")),
    HostilePack("duplicate-suite-names", _duplicate_suites(), _invalid(
        "testing.test_suites[1].name", "duplicate suite name 'Unit Tests'")),
    HostilePack("empty-suite-list", testing({"enabled": True, "test_suites": []}), _invalid(
        "testing.test_suites", "at least one suite is required when testing is enabled")),
    HostilePack("empty-runners-map", runners({}), _invalid(
        "testing.runners", "at least one runner is required when testing is enabled")),
    HostilePack("empty-test-files", suite(test_files=[]),
                _invalid(f"{SUITE}.test_files", "at least one file pattern is required")),
    HostilePack("101-suites", _many_suites(),
                _invalid("testing.test_suites", "more than 100 suites")),
    # Paths that leave the pack, or lead nowhere.
    HostilePack("working-dir-dotdot", suite(working_dir="../outside"),
                _bad_path(f"{SUITE}.working_dir", "../outside")),
    HostilePack("working-dir-absolute", suite(working_dir="/etc"),
                _bad_path(f"{SUITE}.working_dir", "/etc")),
    HostilePack("working-dir-linked-outside",
                with_files(suite(working_dir="linked"),
                           lambda p, d: (p / "linked").symlink_to(_outside_dir(d))),
                _invalid(f"{SUITE}.working_dir", "'linked' leads outside the pack")),
    HostilePack("working-dir-link-loop",
                with_files(suite(working_dir="loop"),
                           lambda p, _: (p / "loop").symlink_to("loop")),
                _invalid(f"{SUITE}.working_dir", "'loop' is a symbolic link loop")),
    HostilePack("working-dir-missing", suite(working_dir="spec"),
                _invalid(f"{SUITE}.working_dir", "'spec' is not a directory in the pack")),
    HostilePack("working-dir-a-file", suite(working_dir="tests/test_math.py"), _invalid(
        f"{SUITE}.working_dir", "'tests/test_math.py' is not a directory in the pack")),
    HostilePack("test-files-dotdot", suite(test_files=["../../*.py"]),
                _bad_path(f"{SUITE}.test_files[0]", "../../*.py")),
    HostilePack("test-files-absolute", suite(test_files=["/etc/*.conf"]),
                _bad_path(f"{SUITE}.test_files[0]", "/etc/*.conf")),
    HostilePack("test-files-home", suite(test_files=["~/.ssh/*"]),
                _bad_path(f"{SUITE}.test_files[0]", "~/.ssh/*")),
    HostilePack("test-file-linked-outside",
                with_files(fields(), lambda p, d: (p / "tests" / "test_secret.py").symlink_to(
                    _outside_file(d))),
                _invalid(f"{SUITE}.test_files[0]", "'test_*.py' matches 'tests/test_secret.py', "
                                                   "which leads outside the pack")),
    HostilePack("glob-matches-nothing", suite(test_files=["check_*.py"]),
                _invalid(f"{SUITE}.test_files[0]", "'check_*.py' matches no file in 'tests'")),
    HostilePack("glob-matches-nothing-shell",
                with_files(suite(runner="shell", working_dir=".", test_files=["run.sh"]),
                           lambda p, _: (p / "tests" / "run.sh").write_text("exit 0\n")),
                _invalid(f"{SUITE}.test_files[0]", "'run.sh' matches no file in '.'")),
    HostilePack("glob-matches-nothing-pytest",
                suite(runner="pytest", test_files=["test_math.py", "unit/"]),
                _invalid(f"{SUITE}.test_files[1]", "'unit/' matches no file in 'tests'")),
    HostilePack("glob-through-link-loops",
                with_files(suite(test_files=["*/*/*/*/*/*/*/test_math.py"]), _link_loops),
                _invalid(f"{SUITE}.test_files[0]",
                         "'*/*/*/*/*/*/*/test_math.py' matches no file in 'tests'")),
    HostilePack("glob-double-star-in-a-name", suite(test_files=["tests**.py"]), _invalid(
        f"{SUITE}.test_files[0]", "'tests**.py' uses '**' inside a name; '**' must be a whole "
                                  "path component (as in 'tests/**/test_*.py')")),
    HostilePack("upstream-entry-point-dotdot",
                runners({"sh": {"type": "script", "entry_point": "../run.sh"}}),
                _bad_path("testing.runners.sh.entry_point", "../run.sh")),
    HostilePack("upstream-entry-point-absolute",
                runners({"sh": {"type": "script", "entry_point": "/bin/true"}}),
                _bad_path("testing.runners.sh.entry_point", "/bin/true")),
    HostilePack("upstream-entry-point-missing",
                runners({"py": {"type": "unittest", "entry_point": "tests/test_gone.py"}}),
                _invalid(f"{SUITE}.test_files[0]", "'test_gone.py' matches no file in 'tests'")),
    # Component files.
    HostilePack("action-broken-yaml", component("broken.yaml", "name: [unclosed\n"), _invalid(
        None, "not valid YAML at line 2, column 1: expected ',' or ']', but got '<stream end>'",
        "actions/broken.yaml")),
    HostilePack("action-a-list", component("list.yaml", "- just\n- a list\n"), _invalid(
        None, "a component definition must be a mapping", "actions/list.yaml")),
    HostilePack("action-label-an-integer", component("num.yaml", "label: 7\n"),
                _invalid("label", "expected a string, got int", "actions/num.yaml")),
    HostilePack("action-entry-point-dotdot",
                with_files(component("evil.yaml", "entry_point: ../../outside/secret.txt\n"),
                           lambda _, d: _outside_file(d)),
                _invalid("entry_point", "'../../outside/secret.txt' leads outside the pack",
                         "actions/evil.yaml")),
    HostilePack("action-entry-point-absolute",
                component("evil.yaml", "entry_point: /usr/bin/env\n"),
                _invalid("entry_point", "'/usr/bin/env' leads outside the pack",
                         "actions/evil.yaml")),
    HostilePack("action-entry-point-linked-outside",
                with_files(component("evil.yaml", "entry_point: run.sh\n"),
                           lambda p, d: (p / "actions" / "run.sh").symlink_to(
                               _outside_file(d))),
                _invalid("entry_point", "'run.sh' leads outside the pack",
                         "actions/evil.yaml")),
    HostilePack("action-nul-in-description",
                component("nul.yaml", 'description: "a\\0b"\n', kind="sensors"),
                _invalid("description", "contains a NUL character, which cannot be stored",
                         "sensors/nul.yaml")),
    HostilePack("action-duplicate-refs",
                with_files(component("a.yaml", f"ref: {REF}.same\n"),
                           lambda p, _: (p / "actions" / "b.yaml").write_text(
                               f"ref: {REF}.same\n")),
                _invalid("ref", f"action ref '{REF}.same' is also defined in actions/a.yaml",
                         "actions/b.yaml")),
    HostilePack("action-file-a-fifo",
                with_files(fields(), _fifo_component),
                _invalid(None, "not a regular file", "actions/pipe.yaml")),
    HostilePack("action-file-linked-outside",
                with_files(fields(), _component_linked_outside),
                _invalid(None, "a link to a file outside the pack", "actions/x.yaml")),
    HostilePack("actions-folder-linked-outside",
                with_files(fields(), lambda p, d: (p / "actions").symlink_to(_outside_dir(d))),
                _invalid(None, "a link to a folder outside the pack", "actions")),
    HostilePack("1001-component-files", with_files(fields(), _many_components),
                _invalid(None, "more than 1000 component files", "actions")),
    HostilePack("components-over-16-mib", with_files(fields(), _bulky_components),
                _invalid(None, "component files larger than 16 MiB together", "rules")),
    HostilePack("action-file-name-with-newline", component("two\nlines.yaml", "label: x\n"),
                _invalid(None, "the file name 'two\\nlines.yaml' has a control character",
                         "actions")),
]
