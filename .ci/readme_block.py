"""Print the first fenced code block under a README heading, so CI runs the README's commands exactly as written.

    python3 .ci/readme_block.py README.md "Set up"
"""
import sys


def readme_block(text: str, heading: str) -> str:
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.lstrip("#").strip() == heading and ln.startswith("#"))
    except StopIteration:
        raise SystemExit(f"readme_block: no heading {heading!r}") from None
    body, inside = [], False
    for ln in lines[start + 1:]:
        if ln.startswith("#") and not inside:
            break
        if ln.startswith("```"):
            if inside:
                return "\n".join(body)
            inside = True
            continue
        if inside:
            body.append(ln)
    raise SystemExit(f"readme_block: no fenced code block under {heading!r}")


if __name__ == "__main__":
    path, heading = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        print(readme_block(f.read(), heading))
