#!/usr/bin/env python3
"""What converging a deployed lab costs, against what users did before converge existed:
destroying the lab and deploying the edited file. A generated star of N leaves, with these
edits (medians of --runs):

  unchanged      deploy the same file again (the lab is read back and compared: nothing to do)
  add a leaf     the file with one more leaf (its node, link, addresses, route; every hosts file)
  remove a leaf  the file with the last leaf gone
  renumber       one leaf's link moved to another /30 (two addresses, the leaf's default route,
                 every hosts file)

Each is timed as `nslab deploy EDITED` on the running lab and as `nslab destroy` + `nslab deploy
EDITED` (destroy waits for the kernel's own cleanup, as scripts/bench.py counts it).

Run as root: scripts/bench-converge.sh [--leaves 1000] [--runs 3] [--out bench/results.md]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench import wait_for_kernel_cleanup  # noqa: E402

NSLAB = os.environ.get("NSLAB", ".build/release/nslab")
LAB = f"cb{os.getpid() % 100000}"


def nslab(*args):
    return subprocess.run([NSLAB, *args], check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_star(leaves, path):
    nslab("generate", "star", "--leaves", str(leaves), "-o", path)
    text = open(path).read()
    text = re.sub(r"^name: .*$", f"name: {LAB}\nprefix: {LAB}-", text, count=1, flags=re.M)
    open(path, "w").write(text)
    return text


def renumbered(text, leaf):
    """Leaf `leaf`'s link and default route moved to 10.255.0.0/30."""
    link = re.search(rf"^  - {{ endpoints: \[hub:eth\d+, leaf{leaf}:eth0\], addresses: \[([\d.]+)/30, ([\d.]+)/30\] }}$",
                     text, flags=re.M)
    hub, own = link.group(1), link.group(2)
    text = text.replace(f"addresses: [{hub}/30, {own}/30] }}", "addresses: [10.255.0.1/30, 10.255.0.2/30] }")
    return text.replace(f"  leaf{leaf}: {{ routes: [default via {hub}] }}", f"  leaf{leaf}: {{ routes: [default via 10.255.0.1] }}")


def timed(*args):
    start = time.monotonic()
    out = nslab(*args)
    return time.monotonic() - start, out.stdout


def destroy():
    start = time.monotonic()
    nslab("destroy", LAB)
    wait_for_kernel_cleanup()
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=None)
    options = parser.parse_args()
    n = options.leaves
    workdir = tempfile.mkdtemp(prefix="nslab-converge-bench-")
    base = os.path.join(workdir, "base.yaml")
    text = write_star(n, base)
    edits = {"unchanged": text}
    bigger = os.path.join(workdir, "bigger.yaml")
    edits["add a leaf"] = write_star(n + 1, bigger)
    edits["remove a leaf"] = write_star(n - 1, os.path.join(workdir, "smaller.yaml"))
    edits["renumber"] = renumbered(text, n // 2)
    files = {}
    for name, content in edits.items():
        files[name] = os.path.join(workdir, name.replace(" ", "-") + ".yaml")
        open(files[name], "w").write(content)

    rows = []
    try:
        for name, path in files.items():
            converge, rebuild, changes = [], [], ""
            for _ in range(options.runs):
                nslab("deploy", "-q", base)
                wait_for_kernel_cleanup()
                seconds, out = timed("deploy", "-q", path)
                converge.append(seconds)
                changes = out.strip().splitlines()[-1]
                nslab("deploy", "-q", base)  # back to the base lab
                wait_for_kernel_cleanup()
                seconds = destroy()
                deploy_seconds, _ = timed("deploy", "-q", path)
                rebuild.append(seconds + deploy_seconds)
                destroy()
            c, r = statistics.median(converge), statistics.median(rebuild)
            rows.append((name, c, r, changes))
            print(f"{name}: converge {c * 1000:.0f} ms, destroy + deploy {r * 1000:.0f} ms, {r / c:.1f}x  ({changes})",
                  file=sys.stderr)
    finally:
        subprocess.run([NSLAB, "destroy", LAB], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    lines = [f"## converge of a {n}-leaf star (scripts/bench-converge.sh)", "",
             f"{os.cpu_count()} cores, {os.uname().release}, {time.strftime('%Y-%m-%d')}; medians of {options.runs} runs. "
             "`deploy EDITED` on the running lab against `destroy` (with the kernel's cleanup) + `deploy EDITED`, "
             "what users did before converge.", "",
             "| edit | converge | destroy + deploy | ratio | what deploy printed |", "|---|---|---|---|---|"]
    for name, c, r, changes in rows:
        lines.append(f"| {name} | {c * 1000:.0f} ms | {r * 1000:.0f} ms | {r / c:.1f}× | {changes} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if options.out:
        previous = open(options.out).read() if os.path.exists(options.out) else ""
        heading = lines[0].split(" of a ")[0]
        at = previous.find(heading)
        if at >= 0:
            end = previous.find("\n## ", at + 1)
            previous = previous[:at] + (previous[end + 1:] if end >= 0 else "")
        open(options.out, "w").write(previous.rstrip() + "\n\n" + report)


if __name__ == "__main__":
    main()
