"""Every code block of README.md runs as written.

The fenced blocks are found by their language:
- ```python blocks run in README order in one Python process (one namespace,
  like a reader pasting them into one session), in a temporary folder;
- the `rnnx ...` lines of ```bash / ```sh / ```shell / ```console blocks
  (a `$ ` prompt is allowed, `\\` continues a line) run at their place in
  that order, through the console script's entry (`keras_rnnx_cli.main`,
  in the same process so TensorFlow loads once; startup itself is tested in
  test_cli_startup.py) in the same folder, and must exit 0; other lines of
  those blocks (make, export, python train.py) are not run;
- blocks in any other language (or none: output listings, Java, Kotlin,
  C++) are not run.

A one-line HTML comment right before a block (blank lines allowed between)
can say
    <!-- readme-test: skip: REASON -->       the block cannot run here
    <!-- readme-test: replace: OLD => NEW --> run with OLD replaced by NEW
                                              (a smaller size; OLD must occur)
so what is left out or shrunk is visible in the README itself; the skip
reasons are listed by `test_skipped_blocks_give_a_reason`.

Files a reader is assumed to have (a text corpus, gensim's analogy and
word-pair sets) are the `FIXTURES`, copied into the folder first.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
SHELL = ("bash", "sh", "shell", "console")
DIRECTIVE = re.compile(r"<!--\s*readme-test:\s*(skip|replace):\s*(.*?)\s*-->", re.S)
FENCE = re.compile(r"^```([\w+-]*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def _gensim_data(name):
    import gensim.test.utils

    return gensim.test.utils.datapath(name)


# name in the README -> where the test takes it from
FIXTURES = {
    "corpus.txt": lambda: _gensim_data("lee_background.cor"),  # 60k words of news
    "questions-words.txt": lambda: _gensim_data("questions-words.txt"),
    "wordsim353.tsv": lambda: _gensim_data("wordsim353.tsv"),
}


def parse(text):
    """The README's blocks in order: dicts with `line` (of the fence), `lang`,
    `code` (replacements applied), `skip` (reason or None), `commands`
    (the `rnnx` command lines of a shell block)."""
    blocks = []
    previous_end = 0
    for m in FENCE.finditer(text):
        between = text[previous_end:m.start()]
        previous_end = m.end()
        # directives: the one-line comments right before the fence (blank
        # lines allowed between them), not comments quoted in the prose
        tail = []
        for text_line in reversed(between.split("\n")):
            if text_line.strip() and not text_line.strip().startswith("<!--"):
                break
            tail.append(text_line)
        tail = "\n".join(reversed(tail))
        skip, code = None, m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        for kind, arg in DIRECTIVE.findall(tail):
            if kind == "skip":
                skip = arg
            else:
                old, sep, new = arg.partition("=>")
                old, new = old.strip(), new.strip()
                if not sep or old not in code:
                    raise ValueError(f"README line {line}: replace directive {arg!r} "
                                     "does not match the block")
                code = code.replace(old, new)
        lang = m.group(1).lower()
        commands = []
        if lang in SHELL:
            joined = re.sub(r"\\\n", " ", code)
            for raw in joined.splitlines():
                raw = raw.strip()
                if raw.startswith("$ "):
                    raw = raw[2:].strip()
                if raw.startswith("rnnx "):
                    commands.append(raw)
        blocks.append({"line": line, "lang": lang, "code": code, "skip": skip,
                       "commands": commands})
    return blocks


def steps(blocks):
    """What runs, in order: ("python", line, code) and ("rnnx", line, argv)."""
    out = []
    for b in blocks:
        if b["skip"]:
            continue
        if b["lang"] == "python":
            out.append(("python", b["line"], b["code"]))
        for command in b["commands"]:
            argv = shlex.split(command, comments=True)[1:]
            out.append(("rnnx", b["line"], argv))
    return out


_RUNNER = textwrap.dedent('''
    import json, os, subprocess, sys, time, traceback
    steps = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__main__"}
    for kind, line, payload in steps:
        start = time.time()
        print(f"README block at line {line} ({kind}) ...", flush=True)
        if kind == "python":
            try:
                exec(compile(payload, f"README.md:{line}", "exec"), namespace)
            except BaseException:
                traceback.print_exc()
                print(f"FAILED: README block at line {line}", flush=True)
                sys.exit(1)
        else:  # the console script's entry, in this process (TensorFlow loaded once)
            import keras_rnnx_cli
            try:
                rc = keras_rnnx_cli.main(payload)
            except SystemExit as e:
                rc = e.code
            if rc != 0:
                print(f"FAILED: README line {line}: rnnx {' '.join(payload)} "
                      f"exited {rc}", flush=True)
                sys.exit(1)
        print(f"  ok in {time.time() - start:.1f} s", flush=True)
''')


def test_parser_reads_languages_directives_and_commands():
    text = textwrap.dedent('''\
        Intro.

        <!-- readme-test: replace: epochs=30 => epochs=1 -->
        ```python
        fit(epochs=30)
        ```
        <!-- readme-test: skip: needs two machines -->

        ```python
        cluster()
        ```

        ```bash
        make demo
        $ rnnx export m.keras \\
            --out x.tflite   # a comment
        ```

        ```
        rnnx verify: OK
        ```

        ```kotlin
        interpreter.run(x, y)
        ```
        ''')
    blocks = parse(text)
    assert [b["lang"] for b in blocks] == ["python", "python", "bash", "", "kotlin"]
    assert blocks[0]["code"] == "fit(epochs=1)\n" and blocks[0]["skip"] is None
    assert blocks[1]["skip"] == "needs two machines"
    assert steps(blocks) == [("python", 4, "fit(epochs=1)\n"),
                             ("rnnx", 13, ["export", "m.keras", "--out", "x.tflite"])]
    with pytest.raises(ValueError, match="line 2: replace directive"):
        parse("<!-- readme-test: replace: nothing => x -->\n```python\npass\n```\n")


def test_skipped_blocks_give_a_reason():
    with open(README, encoding="utf-8") as f:
        blocks = parse(f.read())
    skipped = {b["line"]: b["skip"] for b in blocks if b["skip"] is not None}
    for line, reason in skipped.items():
        assert len(reason) > 10, f"README line {line}: a skip needs a reason"
    print("README blocks not run:", json.dumps(skipped, indent=1))
    assert [b for b in blocks if b["lang"] == "python" and not b["skip"]]


@pytest.mark.slow
def test_every_readme_block_runs(tmp_path):
    with open(README, encoding="utf-8") as f:
        todo = steps(parse(f.read()))
    for name, source in FIXTURES.items():
        with open(source(), "rb") as src, open(tmp_path / name, "wb") as dst:
            dst.write(src.read())
    plan = tmp_path / "readme_steps.json"
    plan.write_text(json.dumps(todo))
    runner = tmp_path / "readme_runner.py"
    runner.write_text(_RUNNER)
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + path if path else ""),
               TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(runner), str(plan)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    print(proc.stdout)  # each block and its time
    assert proc.returncode == 0, (proc.stdout[-4000:] + "\n" + proc.stderr[-6000:])
    assert proc.stdout.count("  ok in ") == len(todo)
