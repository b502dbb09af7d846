"""Run every benchmark in bench/ and print the JSON each wrote to bench/out/."""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    (HERE / "out").mkdir(exist_ok=True)
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_"))
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    for out in sorted((HERE / "out").glob("*.json")):
        print(f"-- {out.name}: {json.dumps(json.loads(out.read_text()), ensure_ascii=False)}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
